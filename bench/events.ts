// Where an update's time went, from the engine's event log: each custom resource's span (from its
// pre-event to its outputs event; the engine stamps events in whole seconds), relative to the
// update's first event.
import * as fs from "node:fs";

export interface ResourceSpan { resource: string; start: number; end: number }

/** The custom resources' spans, in the order they finished, and the last event's time. */
export function eventSpans(eventLog: string): { spans: ResourceSpan[]; lastEvent: number } {
  const started = new Map<string, number>();
  const spans: ResourceSpan[] = [];
  let first: number | undefined;
  let last = 0;
  for (const line of fs.readFileSync(eventLog, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line);
    first ??= e.timestamp;
    last = e.timestamp - first!;
    const pre = e.resourcePreEvent?.metadata;
    if (pre && !pre.type.startsWith("synapse:index:") && pre.type !== "pulumi:pulumi:Stack") started.set(pre.urn, e.timestamp - first!);
    const done = e.resOutputsEvent?.metadata;
    if (done && started.has(done.urn)) spans.push({ resource: done.urn.split("::").pop(), start: started.get(done.urn)!, end: e.timestamp - first! });
  }
  return { spans, lastEvent: last };
}

export function eventDurations(eventLog: string): { resource: string; seconds: number }[] {
  return eventSpans(eventLog).spans.map((s) => ({ resource: s.resource, seconds: s.end - s.start })).sort((a, b) => b.seconds - a.seconds);
}

/**
 * An update's wall time in phases around one resource (the packages' apt transaction): before it
 * (the engine's start, the steps it waits for), it, after it until the last resource finished,
 * and what the event log does not cover (the CLI's start before its first event, its exit after
 * the last). Seconds; `total` is the CLI's wall time.
 */
export function updatePhases(eventLog: string, resource: string, total: number): Record<"before" | "during" | "after" | "outside", number> {
  const { spans, lastEvent } = eventSpans(eventLog);
  const it = spans.find((s) => s.resource === resource);
  if (!it) throw new Error(`the update's event log has no resource ${resource}`);
  const lastEnd = Math.max(...spans.map((s) => s.end));
  return { before: it.start, during: it.end - it.start, after: lastEnd - it.end, outside: Math.max(0, total - lastEvent) };
}
