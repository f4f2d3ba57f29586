/**
 * The log clock: the timestamps of one log, read in log order, as instants,
 * with a DST overlap resolved by the timestamp before.
 *
 * @module
 */

import { decodeBinary } from "../format/record.ts";
import { toBinary } from "../input/file.ts";
import { type Layout, parseWall } from "./layout.ts";
import { wallToInstant, type Zone } from "./zone.ts";

/** Converts the timestamps of one log, in log order, to instants. */
export interface LogClock {
  layout: Layout;
  zone: Zone;
  /** The instant of the last timestamp converted, for the overlap rule. */
  previous?: number;
  lastText: string;
  lastInstant: number;
}

/**
 * Creates a clock for a log whose line before the first had `previous`.
 *
 * @example
 * ```ts
 * import { compileLayout } from "./layout.ts";
 * import { loadZone } from "./zone.ts";
 * const clock = createLogClock(compileLayout("20060102 15:04:05"), loadZone("UTC"));
 * clockInstant(clock, "20261124 23:52:28"); // 1795564348000
 * ```
 */
export function createLogClock(layout: Layout, zone: Zone, previous?: number): LogClock {
  return { layout, zone, previous, lastText: "", lastInstant: NaN };
}

/**
 * The instant of the next timestamp of the log, or `undefined` when it does
 * not match the layout.
 *
 * @example
 * ```ts
 * import { compileLayout } from "./layout.ts";
 * import { loadZone } from "./zone.ts";
 * const clock = createLogClock(compileLayout("20060102 15:04:05"), loadZone("Europe/Zurich"));
 * clockInstant(clock, "20241027 02:59:59"); // first pass: 00:59:59Z
 * clockInstant(clock, "20241027 02:00:00"); // stepped back: second pass, 01:00:00Z
 * ```
 */
export function clockInstant(clock: LogClock, text: string): number | undefined {
  if (text === clock.lastText) return clock.lastInstant;
  const parsed = parseWall(clock.layout, text);
  if (!parsed || parsed.end !== text.length) return undefined;
  const instant = wallToInstant(clock.zone, parsed.wall, clock.previous);
  clock.previous = instant;
  clock.lastText = text;
  clock.lastInstant = instant;
  return instant;
}

/**
 * {@link clockInstant} of a timestamp given as bytes `[start, end)` of
 * `bytes` (UTF-8): the same timestamp as the last costs a comparison.
 *
 * @example
 * ```ts
 * import { compileLayout } from "./layout.ts";
 * import { loadZone } from "./zone.ts";
 * const clock = createLogClock(compileLayout("20060102 15:04:05"), loadZone("UTC"));
 * const bytes = new TextEncoder().encode("20261124 23:52:28,vm");
 * clockInstantOfBytes(clock, bytes, 0, 17); // 1795564348000
 * ```
 */
export function clockInstantOfBytes(
  clock: LogClock,
  bytes: Uint8Array,
  start: number,
  end: number,
): number | undefined {
  const last = clock.lastText;
  if (end - start === last.length) {
    let i = start;
    // Bytes under 0x80 only: other bytes are not their own characters.
    while (i < end && bytes[i] === last.charCodeAt(i - start) && bytes[i] < 0x80) i++;
    if (i === end) return clock.lastInstant;
  }
  return clockInstant(clock, decodeBinary(toBinary(bytes, start, end)));
}
