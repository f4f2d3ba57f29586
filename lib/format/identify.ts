/**
 * Telling an audit log from other files in the same directory, by its first
 * line, whatever its length.
 *
 * @module
 */

import { firstLine, type Head } from "../input/head.ts";
import { toBinary } from "../input/file.ts";
import { parseWall } from "../time/layout.ts";
import type { LineFormat } from "./line.ts";
import { CONNECTION_OPERATIONS } from "./operations.ts";
import { decodeBinary, parseHeader, parseRecord } from "./record.ts";

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
