/**
 * Telling an audit log from other files in the same directory, by its first
 * line, whatever its length: a file of the plugin's own (its first line an
 * audit event in `TimeFormatAudit`), or a syslog file (its first line a
 * syslog line, of any program), as `AuditFormat` allows.
 *
 * @module
 */

import { firstLine, type Head } from "../input/head.ts";
import { toBinary } from "../input/file.ts";
import { parseWall } from "../time/layout.ts";
import type { Layout } from "../time/layout.ts";
import { type LineFormat, lineFormat, syslogFormat } from "./line.ts";
import { CONNECTION_OPERATIONS } from "./operations.ts";
import { decodeBinary, parseHeader, parseRecord } from "./record.ts";
import { isSyslogTimestamp, parseSyslogLine } from "./syslog.ts";

/** The forms a file may be in (`AuditFormat`), tried in this order: `auto` allows both. */
export interface FormatChoice {
  /** The plugin's own files. */
  file?: LineFormat;
  /** Syslog files (`syslogIdent` set). */
  syslog?: LineFormat;
}

/** `AuditFormat`: `auto` decides per file, by its first line. */
export type AuditFormat = "auto" | "file" | "syslog";

/**
 * The forms `AuditFormat` allows, with `TimeFormatAudit` and `SyslogIdent`.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * const timestamp = compileLayout("20060102 15:04:05");
 * formatChoice({ auditFormat: "syslog", timestamp, syslogIdent: "mysqld" }).file; // undefined
 * ```
 */
export function formatChoice(
  options: { auditFormat: AuditFormat; timestamp: Layout; syslogIdent: string },
): FormatChoice {
  const file = lineFormat(options.timestamp);
  const syslog = syslogFormat(file, options.syslogIdent);
  if (options.auditFormat === "file") return { file };
  if (options.auditFormat === "syslog") return { syslog };
  return { file, syslog };
}

/** Bytes enough for any timestamp and the comma after it. */
const TIMESTAMP_BYTES = 256;

/** Whether `timestamp` is exactly a timestamp in the format's layout. */
function isTimestamp(timestamp: string, format: LineFormat): boolean {
  const parsed = parseWall(format.timestamp, timestamp);
  return parsed !== undefined && parsed.end === timestamp.length;
}

/**
 * Whether the start of a file can begin an audit line: a timestamp in the
 * format's layout, then a comma (blanks allowed before each). `readHead`
 * reads past its first bytes only for such a file (its `readOn`), so that a
 * binary file beside the logs costs no more than one small read.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { lineFormat } from "./line.ts";
 * const format = lineFormat(compileLayout("20060102 15:04:05"));
 * mayStartAuditLog(new TextEncoder().encode("20261124 23:52:24,vm,root"), format); // true
 * mayStartAuditLog(new Uint8Array([0, 0, 0x80, 0]), format); // false
 * ```
 */
export function mayStartAuditLog(start: Uint8Array, format: LineFormat): boolean {
  const text = toBinary(start, 0, Math.min(start.length, TIMESTAMP_BYTES));
  if (format.syslogIdent !== undefined) return mayStartSyslog(text);
  let at = 0;
  while (text.charCodeAt(at) === 32) at++;
  const parsed = parseWall(format.timestamp, text, at);
  if (!parsed) return false;
  at = parsed.end;
  while (text.charCodeAt(at) === 32) at++;
  return text.charCodeAt(at) === 44;
}

/**
 * Whether a file is an audit log: its first line is an audit event with a
 * timestamp in the format's layout. A first line longer than the long-line
 * limit (which the reader skips, as any such line) is judged by its start:
 * the fields of an event up to its operation, which must not be a connection
 * event (those are short). A file with no complete first line yet is not one,
 * until it has.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { lineFormat } from "./line.ts";
 * const format = lineFormat(compileLayout("20060102 15:04:05"));
 * const bytes = new TextEncoder().encode("20261124 23:52:24,vm,root,localhost,3,0,CONNECT,,,0\n");
 * looksLikeAuditLog({ gzip: false, bytes, longFirstLine: false }, format); // true
 * ```
 */
export function looksLikeAuditLog(head: Head, format: LineFormat): boolean {
  if (format.syslogIdent !== undefined) {
    const line = head.longFirstLine
      ? toBinary(head.bytes, 0, head.bytes.length)
      : firstLine(head.bytes);
    return line !== undefined && isSyslogStart(line);
  }
  if (head.longFirstLine) {
    const start = parseHeader(toBinary(head.bytes, 0, head.bytes.length), format.timestampCommas);
    return start !== undefined && !CONNECTION_OPERATIONS.has(start.header.operation) &&
      isTimestamp(start.header.timestamp, format);
  }
  const line = firstLine(head.bytes);
  if (line === undefined) return false;
  const record = parseRecord(decodeBinary(line), format.timestampCommas);
  return record !== undefined && isTimestamp(record.timestamp, format);
}

/** Whether a line starts as a syslog line: a timestamp in either form, a host and a tag. */
function isSyslogStart(line: string): boolean {
  const parts = parseSyslogLine(line);
  return parts !== undefined && isSyslogTimestamp(parts.timestamp);
}

/** Whether the start of a file (a binary string) can begin a syslog line. */
function mayStartSyslog(text: string): boolean {
  const end = text.indexOf(" ", /^\d/.test(text) ? 0 : 15);
  return end > 0 && isSyslogTimestamp(text.slice(0, end));
}

/**
 * The form a file is in, of those allowed, by its start: the plugin's own
 * form first, then syslog's; `undefined` when it is in none (no audit log, or
 * no complete first line yet).
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { lineFormat, syslogFormat } from "./line.ts";
 * const file = lineFormat(compileLayout("20060102 15:04:05"));
 * const choice = { file, syslog: syslogFormat(file, "mysql-server_auditing") };
 * const bytes = new TextEncoder().encode("Nov 25 00:07:53 vm systemd[1]: Started x.\n");
 * formatOfFile({ gzip: false, bytes, longFirstLine: false }, choice)?.syslogIdent;
 * // "mysql-server_auditing"
 * ```
 */
export function formatOfFile(head: Head, choice: FormatChoice): LineFormat | undefined {
  for (const format of [choice.file, choice.syslog]) {
    if (format && looksLikeAuditLog(head, format)) return format;
  }
  return undefined;
}

/**
 * Whether the start of a file can begin a line in one of the allowed forms
 * (see {@link mayStartAuditLog}).
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { lineFormat } from "./line.ts";
 * const file = lineFormat(compileLayout("20060102 15:04:05"));
 * mayStartInForm(new TextEncoder().encode("20261124 23:52:24,vm"), { file }); // true
 * ```
 */
export function mayStartInForm(start: Uint8Array, choice: FormatChoice): boolean {
  return [choice.file, choice.syslog].some((f) => f !== undefined && mayStartAuditLog(start, f));
}
