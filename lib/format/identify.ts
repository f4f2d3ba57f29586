/**
 * Telling an audit log from other files in the same directory, by its first
 * line.
 *
 * @module
 */

import { firstLine, type Head } from "../input/head.ts";
import { parseWall } from "../time/layout.ts";
import type { LineFormat } from "./line.ts";
import { decodeBinary, parseRecord } from "./record.ts";

/**
 * Whether a file's first line is an audit event with a timestamp in the
 * format's layout.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { lineFormat } from "./line.ts";
 * const format = lineFormat(compileLayout("20060102 15:04:05"));
 * const bytes = new TextEncoder().encode("20261124 23:52:24,vm,root,localhost,3,0,CONNECT,,,0\n");
 * looksLikeAuditLog({ gzip: false, bytes }, format); // true
 * ```
 */
export function looksLikeAuditLog(head: Head, format: LineFormat): boolean {
  const line = firstLine(head.bytes);
  if (line === undefined) return false;
  const record = parseRecord(decodeBinary(line), format.timestampCommas);
  if (!record) return false;
  const parsed = parseWall(format.timestamp, record.timestamp);
  return parsed !== undefined && parsed.end === record.timestamp.length;
}
