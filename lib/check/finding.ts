/**
 * A finding of `conntracker check`, and how findings are printed: one line
 * each (`ok`, `warn`, `error`, what was found, and the fix), or JSON.
 *
 * @module
 */

/** How bad a finding is. */
export type Severity = "ok" | "warn" | "error";

/** One thing `check` found. */
export interface Finding {
  /** The family: `plugin`, `rotation`, `schedule`, `logrotate`, `zone`, `files`, `database`, `last-run`. */
  check: string;
  severity: Severity;
  message: string;
  /** What to do about it (warn and error). */
  fix?: string;
}

/**
 * Makes a finding.
 *
 * @example
 * ```ts
 * finding("zone", "ok", "The server writes Europe/Zurich time, as TimeLocation says");
 * ```
 */
export function finding(
  check: string,
  severity: Severity,
  message: string,
  fix?: string,
): Finding {
  return fix === undefined ? { check, severity, message } : { check, severity, message, fix };
}

/**
 * Formats findings one per line: severity, family, message and fix.
 *
 * @example
 * ```ts
 * formatFindings([finding("zone", "error", "Wrong zone", "Set TimeLocation = UTC")]);
 * // "error  zone       Wrong zone. Fix: Set TimeLocation = UTC\n"
 * ```
 */
export function formatFindings(findings: Finding[]): string {
  const width = Math.max(0, ...findings.map((f) => f.check.length));
  return findings.map((f) =>
    `${f.severity.padEnd(5)}  ${f.check.padEnd(width)}  ${f.message}${
      f.fix ? `. Fix: ${f.fix}` : ""
    }\n`
  ).join("");
}
