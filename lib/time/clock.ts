/**
 * The log clock: the timestamps of one log, read in log order, as instants,
 * with a DST overlap resolved by the timestamp before.
 *
 * @module
 */

import { decodeBinary } from "../format/record.ts";
import { toBinary } from "../input/file.ts";
import { type Layout, parseWall, type WallTime } from "./layout.ts";
import { offsetAt, wallToInstant, type Zone } from "./zone.ts";

/** Reads the wall time a whole timestamp denotes, or `undefined` when it is none. */
export type WallReader = (text: string) => WallTime | undefined;

/** Converts the timestamps of one log, in log order, to instants. */
export interface LogClock {
  /** How a timestamp reads as a wall time: by the layout, or a reader of its own (syslog's). */
  read: WallReader;
  zone: Zone;
  /** The instant of the last timestamp converted, for the overlap rule. */
  previous?: number;
  /** The last timestamp converted from text, or `""`. */
  lastText: string;
  /** The last timestamp converted from bytes: `lastBytes[0, lastLength)`, none when -1. */
  lastBytes: Uint8Array;
  lastLength: number;
  lastInstant: number;
  /** How to read the layout's timestamps straight from bytes, when they have a fixed width. */
  fixed?: FixedLayout;
}

/**
 * A layout of zero-padded numbers and ASCII literals only (`20060102
 * 15:04:05`): every timestamp has the same width and its fields stand at
 * the same places. `day` caches the last day's start and, when the zone's
 * offset holds from two days before it to two days after it, that offset.
 */
interface FixedLayout {
  width: number;
  /** Byte offsets of the year's four digits, and of the two of month, day, hour, minute, second. */
  year: number;
  month: number;
  dayOfMonth: number;
  hour: number;
  minute: number;
  second: number;
  /** The offsets of the literals' bytes, and the bytes. */
  literalAt: Int32Array;
  literal: Uint8Array;
  day: { key: number; ms: number; offset: number };
}

/** The fixed layout of `layout`, or `undefined` when its timestamps may differ in width. */
function fixedLayout(layout: Layout): FixedLayout | undefined {
  const at: Record<string, number> = {};
  const literal: number[] = [];
  for (const t of layout.tokens) {
    if (t.kind === "literal") {
      for (let i = 0; i < t.text.length; i++) {
        if (t.text.charCodeAt(i) >= 0x80) return undefined;
        literal.push(t.text.charCodeAt(i));
      }
      continue;
    }
    const padded = (t.kind === "month" || t.kind === "day" || t.kind === "minute" ||
      t.kind === "second" || (t.kind === "hour" && !t.twelve)) && t.pad === "0";
    if (!(padded || (t.kind === "year" && t.digits === 4)) || at[t.kind] !== undefined) {
      return undefined;
    }
    at[t.kind] = literal.length;
    for (let i = t.kind === "year" ? 4 : 2; i > 0; i--) literal.push(-1);
  }
  const kinds = ["year", "month", "day", "hour", "minute", "second"];
  if (kinds.some((k) => at[k] === undefined)) return undefined;
  const literalAt = [...literal.keys()].filter((i) => literal[i] !== -1);
  return {
    width: literal.length,
    year: at.year,
    month: at.month,
    dayOfMonth: at.day,
    hour: at.hour,
    minute: at.minute,
    second: at.second,
    literalAt: Int32Array.from(literalAt),
    literal: Uint8Array.from(literalAt, (i) => literal[i]),
    day: { key: -1, ms: 0, offset: NaN },
  };
}

/** The two digits at `i`, or a negative number. */
function twoDigits(bytes: Uint8Array, i: number): number {
  const a = bytes[i] - 48, b = bytes[i + 1] - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -100;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * The zone's offset in seconds if it holds from two UTC days before the
 * wall day starting at `dayMs` (as if UTC) to two days after it, else `NaN`:
 * then every wall time of that day occurs once, at that offset.
 */
function steadyOffset(zone: Zone, dayMs: number): number {
  const first = Math.floor(dayMs / 86_400_000) - 2;
  const offset = offsetAt(zone, first * 86_400_000);
  for (let day = first; day <= first + 5; day++) {
    if (offsetAt(zone, day * 86_400_000) !== offset || Number.isNaN(zone.days.get(day))) {
      return NaN;
    }
  }
  return offset;
}

/**
 * The instant of a timestamp of a fixed layout, as `parseWall` and
 * `wallToInstant` give it, on a day without an offset change near it; else
 * `undefined` (the caller then takes the general way).
 */
function fixedInstant(
  clock: LogClock,
  f: FixedLayout,
  bytes: Uint8Array,
  start: number,
): number | undefined {
  const { literal, literalAt } = f;
  for (let i = 0; i < literal.length; i++) {
    if (bytes[start + literalAt[i]] !== literal[i]) return undefined;
  }
  const century = twoDigits(bytes, start + f.year), years = twoDigits(bytes, start + f.year + 2);
  const year = century < 0 || years < 0 ? -1 : century * 100 + years;
  const month = twoDigits(bytes, start + f.month);
  const day = twoDigits(bytes, start + f.dayOfMonth);
  const hour = twoDigits(bytes, start + f.hour);
  const minute = twoDigits(bytes, start + f.minute);
  const second = twoDigits(bytes, start + f.second);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return undefined;
  }
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) {
    return undefined;
  }
  const key = (year * 100 + month) * 100 + day;
  if (f.day.key !== key) {
    const ms = Date.UTC(year, month - 1, day);
    f.day = { key, ms, offset: steadyOffset(clock.zone, ms) };
  }
  if (Number.isNaN(f.day.offset)) return undefined;
  return f.day.ms + hour * 3_600_000 + minute * 60_000 + second * 1000 - f.day.offset * 1000;
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
  const own = typeof layout === "function";
  const read: WallReader = own ? layout : (text) => {
    const parsed = parseWall(layout, text);
    return parsed && parsed.end === text.length ? parsed.wall : undefined;
  };
  return {
    read,
    zone,
    previous,
    lastText: "",
    lastBytes: new Uint8Array(64),
    lastLength: -1,
    lastInstant: NaN,
    fixed: own || layout.hasOffset ? undefined : fixedLayout(layout),
  };
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
  clock.lastLength = -1;
  clock.lastInstant = instant;
  return instant;
}

/**
 * {@link clockInstant} of a timestamp given as bytes `[start, end)` of
 * `bytes` (UTF-8), without making a string: the same timestamp as the last
 * costs a comparison, one of a fixed-width layout (see `FixedLayout`) reading
 * its digits.
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
  const length = end - start;
  const last = clock.lastBytes;
  if (length === clock.lastLength) {
    let i = 0;
    while (i < length && bytes[start + i] === last[i]) i++;
    if (i === length) return clock.lastInstant;
  }
  const f = clock.fixed;
  let instant = f && length === f.width ? fixedInstant(clock, f, bytes, start) : undefined;
  if (instant === undefined) {
    instant = clockInstant(clock, decodeBinary(toBinary(bytes, start, end)));
    if (instant === undefined) return undefined;
  } else {
    clock.previous = instant;
    clock.lastInstant = instant;
    clock.lastText = "";
  }
  if (length <= last.length) {
    for (let i = 0; i < length; i++) last[i] = bytes[start + i];
    clock.lastLength = length;
  }
  return instant;
}
