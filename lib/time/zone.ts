/**
 * Time zones: UTC offsets of an IANA zone, wall time to instant with a
 * documented rule for DST gaps and overlaps, and instant to text.
 *
 * @module
 */

import { formatWall, type Layout, parseWall, type WallTime } from "./layout.ts";

/** An IANA time zone, with a cache of its offsets. */
export interface Zone {
  /** The IANA name, e.g. `Europe/Zurich`. */
  name: string;
  /** UTC, whose offset is always 0: it is never asked for. */
  utc: boolean;
  /** By UTC day: the offset, or `NaN` when it changes that day (then see `minutes`). */
  days: Map<number, number>;
  /** By UTC minute, for days when the offset changes. */
  minutes: Map<number, number>;
}

/** A time zone name that is not known. */
export class ZoneError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ZoneError";
  }
}

/**
 * Loads an IANA zone. `Local` is the system's zone, as in Go.
 *
 * @example
 * ```ts
 * const zurich = loadZone("Europe/Zurich");
 * offsetAt(zurich, Date.UTC(2024, 6, 1)); // 7200
 * ```
 * @throws {ZoneError} when the name is not a known zone.
 */
export function loadZone(name: string): Zone {
  if (name === "UTC" || name === "Etc/UTC") {
    return { name, utc: true, days: new Map(), minutes: new Map() };
  }
  // Temporal, not Intl.DateTimeFormat: constructing a formatter with a zone costs a run
  // 10-13 ms (ICU's date patterns), Temporal's first offset about 1 ms; the offsets are the
  // same (tests/time_test.ts compares them).
  const resolved = name === "Local" ? Temporal.Now.timeZoneId() : name;
  try {
    Temporal.Instant.fromEpochMilliseconds(0).toZonedDateTimeISO(resolved);
  } catch {
    throw new ZoneError(`Unknown time zone "${name}"`);
  }
  return { name: resolved, utc: false, days: new Map(), minutes: new Map() };
}

/**
 * The zone's UTC offset in seconds at an instant (epoch milliseconds).
 *
 * @example
 * ```ts
 * offsetAt(loadZone("Europe/Zurich"), Date.UTC(2024, 0, 1)); // 3600
 * ```
 */
export function offsetAt(zone: Zone, epochMs: number): number {
  // Asking Temporal takes microseconds: ask it twice a day, and by the minute only on
  // days when the offset changes (no zone changes it twice within one day).
  const day = Math.floor(epochMs / 86_400_000);
  let daily = zone.days.get(day);
  if (daily === undefined) {
    const start = askOffset(zone, day * 86_400_000);
    daily = start === askOffset(zone, (day + 1) * 86_400_000) ? start : NaN;
    if (zone.days.size > 100_000) zone.days.clear();
    zone.days.set(day, daily);
  }
  if (!Number.isNaN(daily)) return daily;
  const minute = Math.floor(epochMs / 60_000);
  let offset = zone.minutes.get(minute);
  if (offset === undefined) {
    offset = askOffset(zone, minute * 60_000);
    if (zone.minutes.size > 100_000) zone.minutes.clear();
    zone.minutes.set(minute, offset);
  }
  return offset;
}

/** The zone's UTC offset in seconds at an instant (whole seconds), from Temporal. */
function askOffset(zone: Zone, at: number): number {
  if (zone.utc) return 0;
  return Temporal.Instant.fromEpochMilliseconds(at).toZonedDateTimeISO(zone.name)
    .offsetNanoseconds / 1e9;
}

/** The wall time as if it were UTC, in epoch milliseconds. */
function wallMs(wall: WallTime): number {
  return Date.UTC(
    wall.year,
    wall.month - 1,
    wall.day,
    wall.hour,
    wall.minute,
    wall.second,
    wall.millisecond,
  );
}

/**
 * The instants a wall time denotes in a zone: one, two in an overlap (earlier
 * first), or none in a gap.
 *
 * @example
 * ```ts
 * const zurich = loadZone("Europe/Zurich");
 * const wall = { year: 2024, month: 10, day: 27, hour: 2, minute: 30, second: 0, millisecond: 0 };
 * wallInstants(zurich, wall).length; // 2
 * ```
 */
export function wallInstants(zone: Zone, wall: WallTime): number[] {
  const local = wallMs(wall);
  const before = offsetAt(zone, local - 86_400_000);
  const after = offsetAt(zone, local + 86_400_000);
  const out: number[] = [];
  for (const offset of before === after ? [before] : [before, after]) {
    const instant = local - offset * 1000;
    if (offsetAt(zone, instant) === offset) out.push(instant);
  }
  return out.sort((a, b) => a - b);
}

/**
 * The instant of a wall time in a zone, by this rule:
 * - a wall time with its own UTC offset is that instant;
 * - a wall time that occurs once is that instant;
 * - in an overlap (autumn), the earlier instant, unless it lies more than half
 *   the overlap before `previous` (the instant of the line before it in the
 *   same log): a log is written in time order, so a wall clock that stepped
 *   back inside the overlap is on its second pass;
 * - in a gap (spring, a time that never occurred), the offset in force before
 *   the gap is used: 02:30 in a gap from 02:00 to 03:00 is 03:30 after it.
 *
 * @example
 * ```ts
 * const zurich = loadZone("Europe/Zurich");
 * const wall = { year: 2024, month: 10, day: 27, hour: 2, minute: 30, second: 0, millisecond: 0 };
 * new Date(wallToInstant(zurich, wall)).toISOString(); // "2024-10-27T00:30:00.000Z"
 * ```
 */
export function wallToInstant(zone: Zone, wall: WallTime, previous?: number): number {
  if (wall.offsetSeconds !== undefined) return wallMs(wall) - wall.offsetSeconds * 1000;
  const instants = wallInstants(zone, wall);
  if (instants.length === 1) return instants[0];
  if (instants.length === 2) {
    const [earlier, later] = instants;
    const half = (later - earlier) / 2;
    return previous !== undefined && earlier < previous - half ? later : earlier;
  }
  return wallMs(wall) - offsetAt(zone, wallMs(wall) - 86_400_000) * 1000;
}

/**
 * The wall time of an instant in a zone, with its offset.
 *
 * @example
 * ```ts
 * instantToWall(loadZone("UTC"), 0).year; // 1970
 * ```
 */
export function instantToWall(zone: Zone, epochMs: number): WallTime {
  const offsetSeconds = offsetAt(zone, epochMs);
  const d = new Date(epochMs + offsetSeconds * 1000);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    millisecond: d.getUTCMilliseconds(),
    offsetSeconds,
  };
}

/**
 * Formats an instant in a zone with a layout.
 *
 * @example
 * ```ts
 * import { compileLayout } from "./layout.ts";
 * const layout = compileLayout("2006-01-02 15:04:05-07:00");
 * formatInstant(layout, loadZone("Europe/Zurich"), Date.UTC(2024, 9, 14, 11, 22, 57));
 * // "2024-10-14 13:22:57+02:00"
 * ```
 */
export function formatInstant(layout: Layout, zone: Zone, epochMs: number): string {
  return formatWall(layout, instantToWall(zone, epochMs));
}

/**
 * Parses a whole text with a layout into an instant, or `undefined`.
 *
 * @example
 * ```ts
 * import { compileLayout } from "./layout.ts";
 * const layout = compileLayout("2006-01-02 15:04:05-07:00");
 * parseInstant(layout, loadZone("UTC"), "2024-10-14 13:22:57+02:00"); // 1728904977000
 * ```
 */
export function parseInstant(layout: Layout, zone: Zone, text: string): number | undefined {
  const parsed = parseWall(layout, text.trim());
  if (!parsed || parsed.end !== text.trim().length) return undefined;
  return wallToInstant(zone, parsed.wall);
}
