/**
 * One audit line: its fields, parsed. The timestamp's own commas come from the
 * `LineFormat` (`line.ts`); the operations that make a line a connection event from
 * `operations.ts`.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { CONNECTION_OPERATIONS } from "./operations.ts";

/** One audit event: `timestamp,serverhost,username,host,connectionid,queryid,operation,database,object,retcode`. */
export interface AuditRecord {
  /** The timestamp as written. */
  timestamp: string;
  serverHost: string;
  user: string;
  /** The client host, without a `:port` or `:unavailable` suffix. */
  host: string;
  connectionId: string;
  queryId: string;
  /** `CONNECT`, `QUERY`, … (`CHANGE_USER` is spelled `CHANGEUSER`). */
  operation: string;
  database: string;
  object: string;
  retcode: string;
}

/**
 * Strips a client port from a host: `10.0.0.5:51234` → `10.0.0.5`,
 * `localhost:unavailable` → `localhost`, `[::1]:3306` → `::1`. An address with
 * several colons (IPv6) keeps a numeric tail, which cannot be told from a
 * part of the address.
 *
 * @example
 * ```ts
 * stripPort("127.0.0.1:54312"); // "127.0.0.1"
 * stripPort("localhost:unavailable"); // "localhost"
 * stripPort("::1"); // "::1"
 * ```
 */
export function stripPort(host: string): string {
  const bracketed = /^\[([^\]]*)\](?::(?:\d+|unavailable))?$/.exec(host);
  if (bracketed) return bracketed[1];
  if (host.endsWith(":unavailable")) return host.slice(0, -":unavailable".length);
  const colon = host.indexOf(":");
  if (colon !== -1 && colon === host.lastIndexOf(":") && /^\d{1,5}$/.test(host.slice(colon + 1))) {
    return host.slice(0, colon);
  }
  return host;
}

function trimSpaces(text: string): string {
  return text.replace(/^ +| +$/g, "");
}

/**
 * Parses one line (without its newline; a trailing `\r` is dropped). The
 * operation is the seventh field, so text inside a quoted query never counts.
 * `timestampCommas` is how many commas the timestamp itself contains.
 * Returns `undefined` for a line that is not an audit event.
 *
 * @example
 * ```ts
 * const r = parseRecord("20261124 23:52:28,vm,bob,127.0.0.1:5122,8,0,CONNECT,,,0,TLSv1.3")!;
 * [r.user, r.host, r.operation, r.retcode]; // ["bob", "127.0.0.1", "CONNECT", "0"]
 * parseRecord("20261124 23:52:27,vm,alice,localhost,7,25,QUERY,shop,'SELECT \\'x,CONNECT,y\\'',0")!
 *   .operation; // "QUERY"
 * ```
 */
export function parseRecord(line: string, timestampCommas = 0): AuditRecord | undefined {
  if (line.endsWith("\r")) line = line.slice(0, -1);
  const fields: string[] = [];
  let start = 0;
  const headCount = 7 + timestampCommas;
  for (let i = 0; i < headCount; i++) {
    const comma = line.indexOf(",", start);
    if (comma === -1) return undefined;
    fields.push(line.slice(start, comma));
    start = comma + 1;
  }
  const timestamp = trimSpaces(fields.slice(0, timestampCommas + 1).join(","));
  const [serverHost, user, host, connectionId, queryId, op] = fields.slice(timestampCommas + 1)
    .map(trimSpaces);
  let operation = op;
  if (operation === "CHANGE_USER") operation = "CHANGEUSER";
  if (!timestamp || !/^[A-Z_]+$/.test(operation) || !/^\d+$/.test(connectionId)) return undefined;
  const rest = line.slice(start);
  let database: string, object: string, retcode: string;
  if (CONNECTION_OPERATIONS.has(operation)) {
    const parts = rest.split(",");
    if (parts.length !== 3 && parts.length !== 4) return undefined;
    [database, object, retcode] = parts;
  } else {
    const first = rest.indexOf(",");
    const last = rest.lastIndexOf(",");
    if (first === -1) return undefined;
    database = rest.slice(0, first);
    object = first === last ? "" : rest.slice(first + 1, last);
    retcode = rest.slice(last + 1);
  }
  return {
    timestamp,
    serverHost,
    user,
    host: stripPort(host),
    connectionId,
    queryId,
    operation,
    database: trimSpaces(database),
    object,
    retcode: trimSpaces(retcode),
  };
}

/**
 * Decodes a binary string's bytes as UTF-8 (invalid sequences become U+FFFD).
 *
 * @example
 * ```ts
 * decodeBinary("zo\u00c3\u00ab"); // "zoë"
 * ```
 */
export function decodeBinary(binary: string): string {
  // deno-lint-ignore no-control-regex
  if (!/[^\x00-\x7f]/.test(binary)) return binary;
  return Buffer.from(binary, "latin1").toString("utf8");
}
