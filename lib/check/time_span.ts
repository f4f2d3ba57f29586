/**
 * systemd time spans (`5min`, `300s`, `1h 30min`), as `check --interval` and
 * timer units write them. Its own module so that the command line can name
 * {@link TimeSpanError} without loading `cron-parser`.
 *
 * @module
 */

/** A time span that is not systemd's `5min`, `300s`, `1h 30min` …. */
export class TimeSpanError extends Error {
  /** Creates the error. */
  constructor(text: string) {
    super(`Invalid time span "${text}": expected e.g. 5min, 300s, 1h (systemd.time)`);
    this.name = "TimeSpanError";
  }
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000,
};

/**
 * Parses a systemd time span (`5min`, `300`, `1h 30min`; a bare number is
 * seconds) into milliseconds.
 *
 * @example
 * ```ts
 * parseTimeSpan("5min"); // 300000
 * parseTimeSpan("1h 30min"); // 5400000
 * ```
 * @throws {TimeSpanError} on anything else.
 */
export function parseTimeSpan(text: string): number {
  const parts = text.trim().match(/\d+(?:\.\d+)?\s*[a-z]*/gi);
  if (!parts || parts.join("").replace(/\s/g, "") !== text.replace(/\s/g, "")) {
    throw new TimeSpanError(text);
  }
  let ms = 0;
  for (const part of parts) {
    const [, n, unit] = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(part)!;
    const factor = unit === "" ? 1000 : UNIT_MS[unit.toLowerCase()];
    if (factor === undefined) throw new TimeSpanError(text);
    ms += Number(n) * factor;
  }
  if (!(ms > 0)) throw new TimeSpanError(text);
  return ms;
}
