// What must not change when the compressor or a rebuild rewrites Synapse's state tables: the full
// state of every state group, resolved the way Synapse does (walk state_group_edges to the first
// group stored in full, the nearest delta winning), as one digest per room.
import { Vps } from "./stack";

export const psqlOn = (vps: Vps, db = "synapse") => async (sql: string) =>
  (await vps.sh(`runuser -u postgres -- psql -XAt -F ' ' -v ON_ERROR_STOP=1 -d ${db}`, { stdin: sql })).stdout.trim();

/** One line per room: room, state groups, (group, key) pairs, and a digest of them all (of each group's digest). */
export const stateDigestsSql = `
  WITH RECURSIVE chain(sg, anc, depth) AS (
    SELECT id, id, 0 FROM state_groups
    UNION ALL
    SELECT c.sg, e.prev_state_group, c.depth + 1 FROM chain c JOIN state_group_edges e ON e.state_group = c.anc
  ), full_state AS (
    SELECT DISTINCT ON (c.sg, s.type, s.state_key) c.sg, s.room_id, s.type, s.state_key, s.event_id
    FROM chain c JOIN state_groups_state s ON s.state_group = c.anc
    ORDER BY c.sg, s.type, s.state_key, c.depth
  ), per_group AS (
    -- A digest per group first: one string of a big room's every group would pass PostgreSQL's
    -- 1 GB limit (3,000 members × 12,000 groups).
    SELECT room_id, sg, count(*) AS pairs,
      md5(string_agg(type || ' ' || state_key || ' ' || event_id, E'\\n' ORDER BY type, state_key)) AS digest
    FROM full_state GROUP BY room_id, sg
  )
  SELECT room_id, count(*), sum(pairs), md5(string_agg(sg || ' ' || digest, E'\\n' ORDER BY sg))
  FROM per_group GROUP BY room_id ORDER BY room_id;`;

/** The state tables' bytes on disk (with indexes and TOAST) and the whole database's. */
export const sizesSql = `SELECT
  pg_total_relation_size('state_groups_state') + pg_total_relation_size('state_group_edges') + pg_total_relation_size('state_groups'),
  pg_database_size(current_database()), (SELECT count(*) FROM state_groups_state), (SELECT count(*) FROM state_groups);`;

export interface Sizes { stateBytes: number; dbBytes: number; stateRows: number; stateGroups: number }

export async function sizes(vps: Vps, db = "synapse"): Promise<Sizes> {
  const [stateBytes, dbBytes, stateRows, stateGroups] = (await psqlOn(vps, db)(sizesSql)).split(" ").map(Number);
  return { stateBytes, dbBytes, stateRows, stateGroups };
}
