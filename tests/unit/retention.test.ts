// What the homeserver deletes by itself, from stack config to homeserver.yaml.
import { parseSettings, RawConfig } from "../../config";
import { baseHomeserverPart } from "../../render/homeserver";
import { validRaw } from "../support/fixtures";

function part(raw: RawConfig) {
  const r = parseSettings(validRaw(raw));
  if (!r.ok) throw new Error(r.errors.join("\n"));
  return baseHomeserverPart(r.settings);
}

describe("retention", () => {
  it("by default drops cached remote media after 90 days and forgotten rooms after 28, and keeps local media and history", () => {
    const p = part({});
    expect(p.media_retention).toEqual({ remote_media_lifetime: "90d" });
    expect(p.forgotten_room_retention_period).toBe("28d");
    expect(p.retention).toBeUndefined();
  });

  it("turns each on or off from config", () => {
    const p = part({ mediaRetentionRemote: "", mediaRetentionLocal: "2y", forgottenRoomRetention: "", messageRetentionDefault: "365d", messageRetentionMax: "2y" });
    expect(p.media_retention).toEqual({ local_media_lifetime: "2y" });
    expect(p.forgotten_room_retention_period).toBeUndefined();
    expect(p.retention).toEqual({ enabled: true, default_policy: { max_lifetime: "365d" }, allowed_lifetime_max: "2y", purge_jobs: [{ interval: "1d" }] });
    expect(part({ mediaRetentionRemote: "" }).media_retention).toBeUndefined();
  });

  it("refuses what Synapse would not read as a duration", () => {
    const r = parseSettings(validRaw({ mediaRetentionRemote: "90 days", messageRetentionDefault: "1" }));
    expect(r.ok ? [] : r.errors).toEqual([
      expect.stringMatching(/synapse:mediaRetentionRemote: given "90 days", expected a duration such as 90d/),
      expect.stringMatching(/synapse:messageRetentionDefault: given "1", expected a duration/),
    ]);
  });
});
