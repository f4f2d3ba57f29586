/**
 * The log clock: the timestamps of one log, read in log order, as instants,
 * with a DST overlap resolved by the timestamp before.
 *
 * @module
 */

import { type Layout, parseWall, type WallTime } from "./layout.ts";
import { wallToInstant, type Zone } from "./zone.ts";

/** Reads the wall time a whole timestamp denotes, or `undefined` when it is none. */
export type WallReader = (text: string) => WallTime | undefined;

/** Converts the timestamps of one log, in log order, to instants. */
export interface LogClock {
  read: WallReader;
  zone: Zone;
  /** The instant of the last timestamp converted, for the overlap rule. */
  previous?: number;
  lastText: string;
  lastInstant: number;
}

/**
 * Creates a clock for a log whose line before the first had `previous`, whose
 * timestamps are in `layout` (or read by a function of their own).
 *
 * @example
 * ```ts
 * import { compileLayout } from "./layout.ts";
 * import { loadZone } from "./zone.ts";
 * const clock = createLogClock(compileLayout("20060102 15:04:05"), loadZone("UTC"));
 * clockInstant(clock, "20261124 23:52:28"); // 1795564348000
 * ```
 */
export function createLogClock(
  layout: Layout | WallReader,
  zone: Zone,
  previous?: number,
): LogClock {
  const read: WallReader = typeof layout === "function" ? layout : (text) => {
    const parsed = parseWall(layout, text);
    return parsed && parsed.end === text.length ? parsed.wall : undefined;
  };
  return { read, zone, previous, lastText: "", lastInstant: NaN };
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
  const wall = clock.read(text);
  if (!wall) return undefined;
  const instant = wallToInstant(clock.zone, wall, clock.previous);
  clock.previous = instant;
  clock.lastText = text;
  clock.lastInstant = instant;
  return instant;
}
