/**
 * One audit line: its fields, parsed. The timestamp's own commas come from the
 * `LineFormat` (`line.ts`); the operations that make a line a connection event from
 * `operations.ts`.
 *
 * The plugin escapes nothing but query text, and then not its commas: a user
 * name (`a,b`), a default database (`sales,2024`), the junk of a successful
 * change-user's database field and a proxied account may all hold commas.
 * The server host, the client host and the two ids never do, and the
 * operation is one word of capitals: these anchor the rest (see
 * {@link parseHeader} and {@link parseRecord} for the rules and what they
 * leave ambiguous).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { CONNECTION_OPERATIONS } from "./operations.ts";

/** The fields of an audit event up to its operation: the start of every line. */
export interface AuditHeader {
  /** The timestamp as written. */
  timestamp: string;
  serverHost: string;
  /** As the client sent it; it may hold commas. */
  user: string;
  /** The client host, without a `:port` or `:unavailable` suffix. */
  host: string;
  connectionId: string;
  queryId: string;
  /** `CONNECT`, `QUERY`, … (`CHANGE_USER` is spelled `CHANGEUSER`). */
  operation: string;
}

/** One audit event: `timestamp,serverhost,username,host,connectionid,queryid,operation,database,object,retcode`. */
export interface AuditRecord extends AuditHeader {
  /** The default database; on connection events it may hold commas. */
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
  if (!host.includes(":")) return host;
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
  if (text.charCodeAt(0) !== 32 && text.charCodeAt(text.length - 1) !== 32) return text;
  return text.replace(/^ +| +$/g, "");
}

/** Whether `text[start, end)` is a number (digits, a `-` before them for a retcode), blanks around it allowed. */
function isNumberField(text: string, start: number, end: number, signed = false): boolean {
  while (start < end && text.charCodeAt(start) === 32) start++;
  while (end > start && text.charCodeAt(end - 1) === 32) end--;
  if (signed && text.charCodeAt(start) === 45 /* - */) start++;
  if (start === end) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Whether `text[start, end)` is an operation: capitals and `_`, blanks around them allowed. */
function isOperationWord(text: string, start: number, end: number): boolean {
  while (start < end && text.charCodeAt(start) === 32) start++;
  while (end > start && text.charCodeAt(end - 1) === 32) end--;
  if (start === end) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if ((c < 65 || c > 90) && c !== 95) return false;
  }
  return true;
}

/**
 * The commas of a line up to the one after its operation, and the index of
 * the field of its connection id (field `k` ends at `commas[k]`), or
 * `undefined`: the rule of {@link parseHeader}.
 */
function headerCommas(
  line: string,
  timestampCommas: number,
): { commas: number[]; ids: number } | undefined {
  const commas: number[] = [];
  let from = 0;
  // The connection id's field: at least one field for the user and one for the host before it.
  for (let ids = timestampCommas + 4;; ids++) {
    while (commas.length < ids + 3) {
      const comma = line.indexOf(",", from);
      if (comma === -1) return undefined;
      commas.push(comma);
      from = comma + 1;
    }
    if (
      isNumberField(line, commas[ids - 1] + 1, commas[ids]) &&
      isNumberField(line, commas[ids] + 1, commas[ids + 1]) &&
      isOperationWord(line, commas[ids + 1] + 1, commas[ids + 2])
    ) return { commas, ids };
  }
}

/** The header of a line from its commas (see {@link headerCommas}), or `undefined` without a timestamp. */
function headerOf(
  line: string,
  timestampCommas: number,
  { commas, ids }: { commas: number[]; ids: number },
): AuditHeader | undefined {
  const timestamp = trimSpaces(line.slice(0, commas[timestampCommas]));
  if (!timestamp) return undefined;
  const field = (first: number, last: number) =>
    trimSpaces(line.slice(commas[first - 1] + 1, commas[last]));
  const server = timestampCommas + 1;
  const operation = field(ids + 2, ids + 2);
  return {
    timestamp,
    serverHost: field(server, server),
    user: field(server + 1, ids - 2),
    host: stripPort(field(ids - 1, ids - 1)),
    connectionId: field(ids, ids),
    queryId: field(ids + 1, ids + 1),
    operation: operation === "CHANGE_USER" ? "CHANGEUSER" : operation,
  };
}

/**
 * Parses the start of a line, up to its operation, and says where the rest
 * (the fields after the operation) begins. `timestampCommas` is how many
 * commas the timestamp itself contains. Returns `undefined` when the line does
 * not start like an audit event. Only the start is needed: it also reads the
 * head of a line too long to hold.
 *
 * The timestamp and the server host come first. Then the operation is the
 * first field, from the fourth after the server host on, that follows two
 * fields of digits (the connection and query ids); the host is the field
 * before the ids, and the user is everything between the server host and the
 * host, commas and all. The leftmost match is the only safe choice, as the
 * text after the operation (a query) may hold anything. What stays
 * ambiguous: a user name in which, from its third comma-separated piece on,
 * two pieces of digits are followed by one of capitals (`a,b,1,2,X`), or that
 * ends with two such pieces before a host of capitals only, is read as the
 * user `a` at host `b`, operation `X`; the server refuses no such name, but
 * none was ever seen.
 *
 * @example
 * ```ts
 * parseHeader("20261201 20:12:50,vm,a,b,localhost,11,0,CONNECT,,,0")?.header.user; // "a,b"
 * ```
 */
export function parseHeader(
  line: string,
  timestampCommas = 0,
): { header: AuditHeader; rest: number } | undefined {
  const found = headerCommas(line, timestampCommas);
  const header = found && headerOf(line, timestampCommas, found);
  return header && { header, rest: found.commas[found.ids + 2] + 1 };
}

/**
 * A connection event from its header and the fields after its operation, read from the right:
 * `database,object,retcode`, and on newer servers a TLS field after the
 * retcode (`…,0,TLSv1.3` or `…,0,`). The retcode is the last field, or the one
 * before it when the last is not a number. The object is the field before
 * the retcode (empty, or the TLS version on community servers from 12.0),
 * except on `PROXY_CONNECT`, where it is the quoted account: from the first
 * piece after the database's first that starts with a backtick. The database
 * is what is left, commas and all. Ambiguous only for a `PROXY_CONNECT` whose
 * database holds `` ,` ``, taken as the start of the account.
 */
function connectionRecord(header: AuditHeader, rest: string): AuditRecord | undefined {
  const parts = rest.split(",");
  let n = parts.length;
  const isRetcode = (i: number) => isNumberField(parts[i], 0, parts[i].length, true);
  if (n >= 4 && !isRetcode(n - 1) && isRetcode(n - 2)) n--;
  if (n < 3 || !isRetcode(n - 1)) return undefined;
  let object = n - 2;
  if (header.operation === "PROXY_CONNECT") {
    for (let i = 1; i < n - 1; i++) {
      if (parts[i].trimStart().startsWith("`")) {
        object = i;
        break;
      }
    }
  }
  return withTail(
    header,
    trimSpaces(object === 1 ? parts[0] : parts.slice(0, object).join(",")),
    object === n - 2 ? parts[object] : parts.slice(object, n - 1).join(","),
    trimSpaces(parts[n - 1]),
  );
}

/** A record: a header and the fields after its operation. */
function withTail(h: AuditHeader, database: string, object: string, retcode: string): AuditRecord {
  return {
    timestamp: h.timestamp,
    serverHost: h.serverHost,
    user: h.user,
    host: h.host,
    connectionId: h.connectionId,
    queryId: h.queryId,
    operation: h.operation,
    database,
    object,
    retcode,
  };
}

/**
 * Parses one line (without its newline; a trailing `\r` is dropped).
 * `timestampCommas` is how many commas the timestamp itself contains.
 * Returns `undefined` for a line that is not an audit event.
 *
 * The fields up to the operation are read by {@link parseHeader}, so text
 * inside a quoted query never counts. After the operation, a connection event
 * (`CONNECT`, `DISCONNECT`, `FAILED_CONNECT`, `CHANGEUSER`, `PROXY_CONNECT`)
 * is read from the right: its retcode is last (or before a TLS field), its
 * object is empty but for a proxied account or a TLS version, and its
 * database, commas and all, is the rest. Other lines: the database up to the
 * next comma, the retcode after the last, the object between (its commas are
 * the query's).
 *
 * @example
 * ```ts
 * const r = parseRecord("20261124 23:52:28,vm,bob,127.0.0.1:5122,8,0,CONNECT,,,0,TLSv1.3")!;
 * [r.user, r.host, r.operation, r.retcode]; // ["bob", "127.0.0.1", "CONNECT", "0"]
 * parseRecord("20261201 20:12:50,vm,a,b,127.0.0.1,8,0,CONNECT,sales,2024,,0")!.database;
 * // "sales,2024"
 * parseRecord("20261124 23:52:27,vm,alice,localhost,7,25,QUERY,shop,'SELECT \\'x,CONNECT,y\\'',0")!
 *   .operation; // "QUERY"
 * ```
 */
export function parseRecord(line: string, timestampCommas = 0): AuditRecord | undefined {
  if (line.endsWith("\r")) line = line.slice(0, -1);
  const found = headerCommas(line, timestampCommas);
  const header = found && headerOf(line, timestampCommas, found);
  if (!header) return undefined;
  const rest = found.commas[found.ids + 2] + 1;
  if (CONNECTION_OPERATIONS.has(header.operation)) {
    return connectionRecord(header, line.slice(rest));
  }
  const first = line.indexOf(",", rest);
  if (first === -1) return undefined;
  const last = line.lastIndexOf(",");
  return withTail(
    header,
    trimSpaces(line.slice(rest, first)),
    first === last ? "" : line.slice(first + 1, last),
    trimSpaces(line.slice(last + 1)),
  );
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
