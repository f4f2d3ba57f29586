/**
 * The shape of an audit line, apart from its fields' meaning: the layout of
 * the timestamp it starts with, and how many commas that timestamp contains
 * (so that the operation is found as the seventh field after it); or, for
 * audit events wrapped in syslog lines (`syslog.ts`), the plugin's ident.
 * {@link lineTimestamp} and {@link timestampReader} tell the two forms apart
 * here, and the scanner (`scan.ts`) for the lines it finds.
 *
 * @module
 */

import type { WallReader } from "../time/clock.ts";
import type { Layout } from "../time/layout.ts";
import type { Zone } from "../time/zone.ts";
import { parseRecord } from "./record.ts";
import { parseSyslogLine, syslogWall } from "./syslog.ts";

/** How the lines of an audit log are written. */
export interface LineFormat {
  /** The layout of the timestamp each line starts with (`TimeFormatAudit`). */
  timestamp: Layout;
  /** How many commas that timestamp itself contains. */
  timestampCommas: number;
  /**
   * Set for audit events wrapped in syslog lines: the plugin's ident
   * (`SyslogIdent`). Their timestamps are syslog's, not `timestamp`'s.
   */
  syslogIdent?: string;
}

/**
 * The line format of a log whose timestamps have `timestamp`'s layout.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * lineFormat(compileLayout("20060102 15:04:05,000")).timestampCommas; // 1
 * ```
 */
export function lineFormat(timestamp: Layout): LineFormat {
  let commas = 0;
  for (const t of timestamp.tokens) {
    if (t.kind === "literal") commas += t.text.split(",").length - 1;
    if (t.kind === "fraction" && t.sep === ",") commas++;
  }
  return { timestamp, timestampCommas: commas };
}

/**
 * The line format of syslog lines whose audit events have `ident`.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * syslogFormat(lineFormat(compileLayout("20060102 15:04:05")), "mysql-server_auditing").syslogIdent;
 * // "mysql-server_auditing"
 * ```
 */
export function syslogFormat(file: LineFormat, ident: string): LineFormat {
  return { timestamp: file.timestamp, timestampCommas: 0, syslogIdent: ident };
}

/**
 * The timestamp of a line as written, or `undefined` when it has none: the
 * record's, or a syslog line's (of any program: its time still bounds the
 * file's events).
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * const syslog = syslogFormat(lineFormat(compileLayout("20060102 15:04:05")), "mysqld");
 * lineTimestamp("Dec  1 20:46:27 vm other: hello", syslog); // "Dec  1 20:46:27"
 * ```
 */
export function lineTimestamp(line: string, format: LineFormat): string | undefined {
  if (format.syslogIdent !== undefined) return parseSyslogLine(line)?.timestamp;
  return parseRecord(line, format.timestampCommas)?.timestamp;
}

/**
 * How the timestamps of one file in `format` read, for its log clock: the
 * format's layout, or syslog's reading (whose traditional form takes its year
 * from the file's modification time).
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * import { clockInstant, createLogClock } from "../time/clock.ts";
 * const zone = loadZone("UTC");
 * const format = syslogFormat(lineFormat(compileLayout("20060102 15:04:05")), "mysqld");
 * const clock = createLogClock(timestampReader(format, { zone, mtimeMs: Date.UTC(2027, 0, 2) }), zone);
 * clockInstant(clock, "Dec 31 23:59:58"); // Date.UTC(2026, 11, 31, 23, 59, 58)
 * ```
 */
export function timestampReader(
  format: LineFormat,
  file: { zone: Zone; mtimeMs: number },
): Layout | WallReader {
  if (format.syslogIdent !== undefined) return (text) => syslogWall(text, file);
  return format.timestamp;
}
