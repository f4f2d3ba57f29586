/**
 * Periods as `--unused-for` takes them: `90d`, `12w`, `6m`, `1y`.
 *
 * @module
 */

/** A duration text that is not `<n>d`, `<n>w`, `<n>m` or `<n>y`. */
export class DurationError extends Error {
  /** Creates the error. */
  constructor(text: string) {
    super(`Invalid duration "${text}": expected a number and d, w, m or y (e.g. 90d, 12w, 6m, 1y)`);
    this.name = "DurationError";
  }
}

const UNIT_DAYS: Record<string, number> = { d: 1, w: 7, m: 30, y: 365 };

/**
 * Parses `90d`, `12w`, `6m` (30 days each) or `1y` (365 days) into milliseconds.
 *
 * @example
 * ```ts
 * parseDuration("90d"); // 7776000000
 * parseDuration("12w") === parseDuration("84d"); // true
 * ```
 * @throws {DurationError} on anything else.
 */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+)\s*([dwmy])\s*$/i.exec(text);
  if (!m) throw new DurationError(text);
  return Number(m[1]) * UNIT_DAYS[m[2].toLowerCase()] * 86_400_000;
}
