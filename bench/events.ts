// Where an update's time went: each custom resource's duration from the engine's event log (the
// gap between its pre-event and its outputs event; the engine stamps events in whole seconds).
import * as fs from "node:fs";

export function eventDurations(eventLog: string): { resource: string; seconds: number }[] {
  const started = new Map<string, number>();
  const out: { resource: string; seconds: number }[] = [];
  for (const line of fs.readFileSync(eventLog, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line);
    const pre = e.resourcePreEvent?.metadata;
    if (pre && !pre.type.startsWith("synapse:index:") && pre.type !== "pulumi:pulumi:Stack") started.set(pre.urn, e.timestamp);
    const done = e.resOutputsEvent?.metadata;
    if (done && started.has(done.urn)) out.push({ resource: done.urn.split("::").pop(), seconds: e.timestamp - started.get(done.urn)! });
  }
  return out.sort((a, b) => b.seconds - a.seconds);
}
