/**
 * Periods as `--unused-for` takes them: `90d`, `12w`, `6m`, `1y`, from one
 * day to 100 years.
 *
 * @module
 */

/** A duration text that is not `<n>d`, `<n>w`, `<n>m` or `<n>y` of 1 day to 100 years. */
export class DurationError extends Error {
  /** Creates the error; `problem` says what is wrong with a well-formed text. */
  constructor(text: string, problem?: string) {
    super(
      `Invalid duration "${text}": ${
        problem ?? "expected a number and d, w, m or y (e.g. 90d, 12w, 6m, 1y)"
      }`,
    );
    this.name = "DurationError";
  }
}

const UNIT_DAYS: Record<string, number> = { d: 1, w: 7, m: 30, y: 365 };

/** The longest period: 100 years of 365 days (a longer one is a typo, not a question). */
const MAX_DAYS = 100 * 365;

/**
 * Parses `90d`, `12w`, `6m` (30 days each) or `1y` (365 days) into
 * milliseconds. A period under a day (`0d`) would call every account without
 * a login this very moment unused; one over 100 years is a typo.
 *
 * @example
 * ```ts
 * parseDuration("90d"); // 7776000000
 * parseDuration("12w") === parseDuration("84d"); // true
 * ```
 * @throws {DurationError} on anything else, `0d` and periods over 100 years included.
 */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+)\s*([dwmy])\s*$/i.exec(text);
  if (!m) throw new DurationError(text);
  const days = Number(m[1]) * UNIT_DAYS[m[2].toLowerCase()];
  if (days < 1) throw new DurationError(text, "the period must be at least 1 day");
  if (days > MAX_DAYS) throw new DurationError(text, "the period can be at most 100 years (100y)");
  return days * 86_400_000;
}
