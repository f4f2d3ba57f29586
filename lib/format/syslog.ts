/**
 * Audit events wrapped in syslog lines, as rsyslog writes them when the
 * plugin logs with `server_audit_output_type=syslog`:
 *
 * ```
 * 2026-11-25T00:07:53.933242+01:00 vm mysql-server_auditing:  vm,root,localhost,3,0,CONNECT,,,0
 * Nov 25 00:08:05 vm mysql-server_auditing:  vm,,,13,0,CHANGEUSER,OOOO,,0
 * ```
 *
 * A syslog timestamp (RFC 3339, rsyslog's default on Debian 12, or the
 * traditional `Mmm dd HH:MM:SS`), the host, the tag (the ident, with a
 * `[pid]` when the sender asked for one) and a colon; then the message:
 * `server_audit_syslog_info` (empty by default), a space, and the audit
 * fields from `serverhost` on, the file format without its timestamp. Lines
 * of other programs are not the plugin's and are passed over.
 *
 * The traditional timestamp has no year and no zone: its wall time is read in
 * `TimeLocation`, in the latest year that puts it no later than a day after
 * the file's modification time (see {@link syslogWall}).
 *
 * @module
 */

import { compileLayout, parseWall, type WallTime } from "../time/layout.ts";
import { instantToWall, wallToInstant, type Zone } from "../time/zone.ts";
import { toBinary } from "../input/file.ts";
import { type AuditRecord, parseRecord } from "./record.ts";

/** The plugin's ident when `server_audit_syslog_ident` is left alone. */
export const DEFAULT_SYSLOG_IDENT = "mysql-server_auditing";

/** The parts of a syslog line: where its timestamp ends, its tag, and where the message starts. */
export interface SyslogLine {
  /** The timestamp as written. */
  timestamp: string;
  host: string;
  /** The tag without its `[pid]` and colon: the sender's ident. */
  ident: string;
  /** Where the message starts (after the colon and one blank). */
  message: number;
}

const RFC3339 = compileLayout("2006-01-02T15:04:05.999999Z07:00");
/** The traditional form, behind a leap year of our own (a layout needs a year). */
const TRADITIONAL = compileLayout("2006 Jan _2 15:04:05");
const LEAP_YEAR = "2000 ";
/** `Mmm dd HH:MM:SS`: always 15 characters (the day is padded with a blank). */
const TRADITIONAL_LENGTH = 15;
const DAY_MS = 86_400_000;

/**
 * Splits a syslog line (RFC 3339 or traditional timestamp, host, tag) into its
 * parts, or `undefined` when it is not one. The timestamp is not checked here.
 *
 * @example
 * ```ts
 * const line = "Nov 25 00:08:05 vm mysql-server_auditing:  vm,,,13,0,CHANGEUSER,OOOO,,0";
 * const parts = parseSyslogLine(line)!;
 * [parts.timestamp, parts.ident, line.slice(parts.message)];
 * // ["Nov 25 00:08:05", "mysql-server_auditing", " vm,,,13,0,CHANGEUSER,OOOO,,0"]
 * ```
 */
export function parseSyslogLine(line: string): SyslogLine | undefined {
  const first = line.charCodeAt(0);
  let end: number;
  if (first >= 48 && first <= 57) {
    end = line.indexOf(" ");
    if (end === -1) return undefined;
  } else {
    end = TRADITIONAL_LENGTH;
    if (line.charCodeAt(end) !== 32 || line.charCodeAt(3) !== 32) return undefined;
  }
  const hostEnd = line.indexOf(" ", end + 1);
  if (hostEnd <= end + 1) return undefined;
  const colon = line.indexOf(":", hostEnd + 1);
  if (colon <= hostEnd + 1) return undefined;
  let tag = line.slice(hostEnd + 1, colon);
  if (tag.includes(" ")) return undefined;
  const pid = tag.indexOf("[");
  if (pid !== -1) {
    if (!/^\[\d+\]$/.test(tag.slice(pid))) return undefined;
    tag = tag.slice(0, pid);
  }
  return {
    timestamp: line.slice(0, end),
    host: line.slice(end + 1, hostEnd),
    ident: tag,
    message: line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1,
  };
}

/**
 * Where the audit fields start in a message of the plugin (`<info> <fields>`):
 * after the last blank before the first comma, as the server host holds
 * neither; `-1` when there is no comma.
 */
function fieldsStart(line: string, message: number): number {
  const comma = line.indexOf(",", message);
  if (comma === -1) return -1;
  return Math.max(message, line.lastIndexOf(" ", comma) + 1);
}

/** Where a syslog line's timestamp ends and its server host starts (see {@link locateSyslogHeader}). */
export interface SyslogHeader {
  timestampEnd: number;
  serverStart: number;
}

/**
 * Reads the syslog header of a line in `bytes` whose first comma is at
 * `comma`, as {@link parseSyslogRecord} reads it: where its timestamp ends and
 * its server host starts. `null` for another program's line (passed over),
 * `undefined` when the bytes must be read as text (a header beyond ASCII, or
 * none: the text path says what is wrong).
 *
 * @example
 * ```ts
 * const line = new TextEncoder().encode("Nov 25 00:08:05 vm mysql-server_auditing:  vm,a,h,1,0,CONNECT,,,0");
 * locateSyslogHeader(line, 0, 45, "mysql-server_auditing"); // { timestampEnd: 15, serverStart: 43 }
 * ```
 */
export function locateSyslogHeader(
  bytes: Uint8Array,
  start: number,
  comma: number,
  ident: string,
): SyslogHeader | null | undefined {
  for (let i = start; i < comma; i++) if (bytes[i] > 127) return undefined;
  // ASCII: the bytes up to the comma are the line's text, index for index.
  const head = toBinary(bytes, start, comma + 1);
  const parts = parseSyslogLine(head);
  if (!parts) return undefined;
  if (parts.ident !== ident) return null;
  // As parseRecord reads the timestamp: without blanks around it.
  let end = parts.timestamp.length;
  while (end > 0 && head.charCodeAt(end - 1) === 32) end--;
  if (head.charCodeAt(0) === 32) return undefined;
  return { timestampEnd: start + end, serverStart: start + fieldsStart(head, parts.message) };
}

/**
 * Parses a syslog line of the plugin into its audit record, whose timestamp is
 * the syslog timestamp as written. Returns `null` for another program's line
 * (another ident: not the plugin's, passed over) and `undefined` for a line
 * that is not a syslog line or whose message is not an audit event.
 *
 * @example
 * ```ts
 * const line = "2026-11-25T00:07:53.933242+01:00 vm mysql-server_auditing:  vm,root,localhost,3,0,CONNECT,,,0";
 * const r = parseSyslogRecord(line, "mysql-server_auditing")!;
 * [r.timestamp, r.user, r.host, r.operation];
 * // ["2026-11-25T00:07:53.933242+01:00", "root", "localhost", "CONNECT"]
 * parseSyslogRecord("Nov 25 00:08:05 vm other: vm,a,h,1,0,CONNECT,,,0", "mysql-server_auditing"); // null
 * ```
 */
export function parseSyslogRecord(line: string, ident: string): AuditRecord | null | undefined {
  if (line.endsWith("\r")) line = line.slice(0, -1);
  const parts = parseSyslogLine(line);
  if (!parts) return undefined;
  if (parts.ident !== ident) return null;
  const start = fieldsStart(line, parts.message);
  if (start === -1) return undefined;
  return parseRecord(`${parts.timestamp},${line.slice(start)}`, 0);
}

/** Whether a timestamp of a syslog line reads as one, in either form. */
export function isSyslogTimestamp(text: string): boolean {
  if (text.length === TRADITIONAL_LENGTH) return traditionalWall(text) !== undefined;
  const parsed = parseWall(RFC3339, text);
  return parsed !== undefined && parsed.end === text.length &&
    parsed.wall.offsetSeconds !== undefined;
}

/** The wall time of a traditional timestamp, in the year 2000. */
function traditionalWall(text: string): WallTime | undefined {
  const parsed = parseWall(TRADITIONAL, LEAP_YEAR + text);
  return parsed && parsed.end === LEAP_YEAR.length + text.length ? parsed.wall : undefined;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * The wall time of a syslog timestamp, or `undefined` when it is none:
 * - RFC 3339 (`2026-11-25T00:07:53.933242+01:00`): exact, with its offset
 *   (milliseconds kept);
 * - traditional (`Nov 25 00:08:05`): no year and no zone. It is the wall time
 *   in `zone` of the latest year that puts it at most a day after `mtimeMs`,
 *   the modification time of the file it is in (which no line was written
 *   after): a `Dec 31` line in a file last written on `Jan 1` is of the year
 *   before. So the year steps back wherever the months go backwards, read
 *   from the end of the file, for lines of the last twelve months before it;
 *   a line older than that is given the later year. `Feb 29` goes back to a
 *   leap year.
 *
 * @example
 * ```ts
 * import { loadZone } from "../time/zone.ts";
 * const zurich = loadZone("Europe/Zurich");
 * const mtimeMs = Date.UTC(2027, 0, 1, 0, 5); // 1 January 2027, 01:05 in Zurich
 * syslogWall("Dec 31 23:59:58", { zone: zurich, mtimeMs })!.year; // 2026
 * syslogWall("Jan  1 00:59:59", { zone: zurich, mtimeMs })!.year; // 2027
 * syslogWall("2026-11-25T00:07:53.933242+01:00", { zone: zurich, mtimeMs })!.offsetSeconds; // 3600
 * ```
 */
export function syslogWall(
  text: string,
  file: { zone: Zone; mtimeMs: number },
): WallTime | undefined {
  if (text.length !== TRADITIONAL_LENGTH) {
    const parsed = parseWall(RFC3339, text);
    if (!parsed || parsed.end !== text.length || parsed.wall.offsetSeconds === undefined) {
      return undefined;
    }
    return parsed.wall;
  }
  const wall = traditionalWall(text);
  if (!wall) return undefined;
  let year = instantToWall(file.zone, file.mtimeMs).year;
  if (wallToInstant(file.zone, { ...wall, year }) > file.mtimeMs + DAY_MS) year--;
  if (wall.month === 2 && wall.day === 29) { while (!isLeap(year)) year--; }
  return { ...wall, year };
}
