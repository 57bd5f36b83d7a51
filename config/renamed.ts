// Keys that were renamed or removed, so a stack written for an older version of this program
// gets "X was renamed to Y" (or "X was removed") instead of "unknown key". Entries stay: a stack
// may skip versions.
export interface RenamedKey {
  /** The key's new name; absent when the key is gone. */
  to?: string;
  /** Why, and since when, in a few words. */
  why: string;
}

export const renamedKeys: Record<string, RenamedKey> = {
  federationDomainWhitelist: {
    to: "federationDomainAllowlist",
    why: "December 2026, named like federationIpRangeAllowlist; the value is the same list",
  },
};
