#!/usr/bin/env bash
# The PostgreSQL cluster PG_CLUSTER ("major/name") installed, serving PORT and running. When another
# cluster serves PORT (an older major: postgresVersion changed), the database moves to PG_CLUSTER:
# with Synapse stopped (the upgrade gate did that, after a backup), the new cluster is made on a
# port of its own, Synapse's role and database are made there (UTF8, collation C), pg_dump of the
# old cluster (its own major's pg_dump, which reads its own catalog right) goes into pg_restore of
# the new one in a single transaction, the events and users are counted on both sides and must be
# equal, the new cluster is analyzed, and only then do the two swap ports: the new one serves PORT,
# the old one is stopped, moved to the new one's port and not started at boot, and kept (its data
# untouched) until postgresDropOldCluster names it. Anything failing before the swap leaves the
# old cluster serving as it was. Why not pg_upgradecluster: docs/upgrades.md.
# Parameters: PG_CLUSTER, PORT, DB_NAME, DB_USER, PACKAGE (PostgreSQL's server package, %s the
# major); stdin: the database role's password.
: "${PG_CLUSTER:?}" "${PORT:?}" "${DB_NAME:?}" "${DB_USER:?}" "${PACKAGE:?}"
IFS= read -r password || [ -n "${password:-}" ] || die "no password on stdin"
[[ $PG_CLUSTER =~ ^([0-9]+)/([A-Za-z0-9_.-]+)$ ]] || die "not a PostgreSQL cluster: '$PG_CLUSTER'"
major=${BASH_REMATCH[1]} name=${BASH_REMATCH[2]}
# shellcheck disable=SC2059 # the package name is the format
ensure_packages "$(printf "$PACKAGE" "$major")"
exists() { pg_lsclusters --no-header 2>/dev/null | awk -v c="$1" '$1 "/" $2 == c { found = 1 } END { exit !found }'; }
start() {
  systemctl enable --quiet postgresql
  pg_ctlcluster "${1%%/*}" "${1#*/}" start 2>/dev/null || pg_ctlcluster "${1%%/*}" "${1#*/}" status >/dev/null \
    || die "PostgreSQL $1 does not start: $(tail -n 20 "/var/log/postgresql/postgresql-${1%%/*}-${1#*/}.log" 2>/dev/null)"
  for _ in $(seq 1 60); do PGCLUSTER=$1 runuser -u postgres -- pg_isready -q && return 0; sleep 1; done
  die "PostgreSQL $1 does not accept connections"
}
serving=$(cluster_on_port "$PORT")
if [ -z "$serving" ]; then
  exists "$PG_CLUSTER" && die "PostgreSQL $PG_CLUSTER exists but does not serve port $PORT, which nothing serves: set its port to $PORT (pg_conftool $major $name set port $PORT) and apply again"
  pg_createcluster "$major" "$name" --port "$PORT" >&2
  serving=$PG_CLUSTER
fi
if [ "$serving" = "$PG_CLUSTER" ]; then
  start "$PG_CLUSTER"
  printf 'PostgreSQL %s (%s)\n' "$(PGCLUSTER=$PG_CLUSTER runuser -u postgres -- psql -XAtc 'SHOW server_version')" "$PG_CLUSTER"
  exit 0
fi

# The move from the cluster serving PORT to PG_CLUSTER.
old=$serving
old_major=${old%%/*}
[ "$old_major" -lt "$major" ] || die "PostgreSQL $old serves port $PORT, and the stack asks for $PG_CLUSTER: a database never moves to an older major. Nothing was changed."
started=$(date +%s)
start "$old"
old_sql() { PGCLUSTER=$old runuser -u postgres -- psql -X -qAt -v ON_ERROR_STOP=1 "$@"; }
new_sql() { PGCLUSTER=$PG_CLUSTER runuser -u postgres -- psql -X -qAt -v ON_ERROR_STOP=1 "$@"; }
has_db() { [ "$("$1" -c "SELECT count(*) FROM pg_database WHERE datname = '$DB_NAME'")" = 1 ]; }
counts() { "$1" -d "$DB_NAME" -c 'SELECT (SELECT count(*) FROM events) || $$ events, $$ || (SELECT count(*) FROM users) || $$ users$$'; }
moved=""
if has_db old_sql; then
  clients=$(old_sql -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$DB_NAME' AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
  [ "$clients" = 0 ] || die "$clients connection(s) to $DB_NAME on PostgreSQL $old: Synapse must be stopped for the move (the upgrade gate stops it). Nothing was changed."
  before=$(counts old_sql)
fi
if exists "$PG_CLUSTER"; then
  # A cluster of the new major that a package install made, or a move cut off before the swap:
  # used if it holds no Synapse data yet, never overwritten otherwise.
  start "$PG_CLUSTER"
  if has_db new_sql && [ "$(new_sql -d "$DB_NAME" -c "SELECT to_regclass('public.events') IS NOT NULL")" = t ]; then
    die "PostgreSQL $PG_CLUSTER already holds a Synapse database $DB_NAME while $old serves port $PORT: refusing to choose between them. Compare them; drop the one you do not want (pg_dropcluster --stop $major $name, to move again) and apply again."
  fi
else
  pg_createcluster "$major" "$name" >&2
  start "$PG_CLUSTER"
fi
if [ -n "${before:-}" ]; then
  PGCLUSTER=$PG_CLUSTER pg_ensure_role_and_database "$DB_NAME" "$DB_USER" "$password" >/dev/null
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  log "moving $DB_NAME ($before) from PostgreSQL $old to $PG_CLUSTER"
  if ! PGCLUSTER=$old runuser -u postgres -- pg_dump -Fc "$DB_NAME" 2>"$work/dump.log" \
      | PGCLUSTER=$PG_CLUSTER runuser -u postgres -- pg_restore --single-transaction --exit-on-error -d "$DB_NAME" 2>"$work/restore.log"; then
    tail -n 20 "$work/dump.log" "$work/restore.log" >&2
    die "the move of $DB_NAME to PostgreSQL $PG_CLUSTER failed and was rolled back; $old still serves port $PORT, untouched"
  fi
  after=$(counts new_sql)
  [ "$after" = "$before" ] || die "PostgreSQL $PG_CLUSTER has $after after the move, $old $before: not switching; $old still serves port $PORT"
  PGCLUSTER=$PG_CLUSTER runuser -u postgres -- vacuumdb --quiet --analyze-only -d "$DB_NAME"
  moved="$before"
fi
# The swap: the old cluster stops and takes the new one's port; the new one serves PORT.
new_port=$(pg_lsclusters --no-header | awk -v c="$PG_CLUSTER" '$1 "/" $2 == c { print $3 }')
record=$STATE_DIR/postgres-moves
install -d -m 0755 "$STATE_DIR"
grep -qxF "$old $PG_CLUSTER" "$record" 2>/dev/null || printf '%s %s\n' "$old" "$PG_CLUSTER" >>"$record"
pg_ctlcluster "$major" "$name" stop
pg_ctlcluster "$old_major" "${old#*/}" stop
pg_conftool "$old_major" "${old#*/}" set port "$new_port"
printf 'manual\n' >"/etc/postgresql/$old_major/${old#*/}/start.conf"
pg_conftool "$major" "$name" set port "$PORT"
start "$PG_CLUSTER"
printf 'moved %s from PostgreSQL %s to %s (%s, counted on both) in %s s; %s is kept, stopped, on port %s until postgresDropOldCluster is %s\n' \
  "$DB_NAME" "$old" "$PG_CLUSTER" "${moved:-no Synapse database}" "$(($(date +%s) - started))" "$old" "$new_port" "$old_major"
