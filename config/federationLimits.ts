// How much inbound federation a homeserver accepts: Synapse's own rc_federation (per remote
// server, in the process) and nginx's per-origin request rate (before Synapse spends anything),
// per tier, each overridable; per-peer rates and a deny list of origins.
import { TierName } from "./tiers";

/** Synapse's rc_federation, as homeserver.yaml spells it. */
export interface RcFederation {
  window_size: number;
  sleep_limit: number;
  sleep_delay: number;
  reject_limit: number;
  concurrent: number;
}

export interface FederationLimits {
  rc: RcFederation;
  /** nginx: requests per second per signing origin (X-Matrix origin=…), and the burst above it. */
  originRate: number;
  originBurst: number;
  /** Origins with a rate of their own (a big, trusted peer). */
  peers: { origin: string; rate: number }[];
  /** Origins refused outright (403), before Synapse sees the request. */
  deny: string[];
}

/**
 * Per tier. Synapse's defaults (window 1 s, sleep after 10, delay 500 ms, reject after 50,
 * 3 concurrent) suit the community tier; solo halves what a single peer may queue, since one
 * busy room's backfill can occupy a 2-CPU host; large doubles it. nginx's rate is well above
 * a healthy peer's steady traffic (a few transactions and queries a second) and its burst
 * covers a join to a big room.
 */
export const tierFederationLimits: Record<TierName, Omit<FederationLimits, "peers" | "deny">> = {
  solo: { rc: { window_size: 1000, sleep_limit: 10, sleep_delay: 500, reject_limit: 25, concurrent: 2 }, originRate: 10, originBurst: 50 },
  community: { rc: { window_size: 1000, sleep_limit: 10, sleep_delay: 500, reject_limit: 50, concurrent: 3 }, originRate: 30, originBurst: 100 },
  large: { rc: { window_size: 1000, sleep_limit: 20, sleep_delay: 250, reject_limit: 100, concurrent: 6 }, originRate: 100, originBurst: 300 },
};

/** `server.name=rate`, the rate in requests per second. */
export const peerRatePattern = /^([a-z0-9.-]+(?::\d{1,5})?)=([1-9][0-9]{0,4})$/;
