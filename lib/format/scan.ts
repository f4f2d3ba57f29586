/**
 * Audit log lines: parsing one line into its fields, and scanning a block of
 * complete lines for the few that matter without splitting the others.
 *
 * Blocks are "binary strings" (one character per byte, as
 * `Buffer.latin1Slice` makes them), so that byte offsets are string offsets and
 * invalid UTF-8 cannot break a search; the fields of the lines that matter are
 * then decoded as UTF-8.
 *
 * @module
 */

import { Buffer } from "node:buffer";

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

/** Operations whose lines are connection events (database, object, retcode and an optional TLS field). */
const CONNECTION_OPS = new Set([
  "CONNECT",
  "DISCONNECT",
  "FAILED_CONNECT",
  "CHANGEUSER",
  "PROXY_CONNECT",
]);

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
  if (CONNECTION_OPS.has(operation)) {
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

/**
 * A copy of part of a block that does not keep the block alive: V8 makes a
 * slice a view of its parent, and a record's fields outlive their block (in
 * the tally, or waiting to leave a Worker). Flattening a concatenation copies.
 */
function detach(block: string, start: number, end: number): string {
  return (block.slice(start, end) + "\n").slice(0, -1);
}

/** What a scan saw. */
export interface ScanStats {
  /** Lines looked at: connection events and lines of watched connections. */
  candidates: number;
  /** Lines looked at that are not audit events. */
  malformed: number;
}

/** Whether the comma at `comma` ends `,[ ]digits[ ],[ ]digits[ ]`: a line's connection and query ids. */
function afterIds(block: string, comma: number): boolean {
  let i = comma - 1;
  for (let field = 0; field < 2; field++) {
    while (block.charCodeAt(i) === 32) i--;
    const last = i;
    while (i >= 0 && block.charCodeAt(i) >= 48 && block.charCodeAt(i) <= 57) i--;
    if (i === last) return false;
    while (block.charCodeAt(i) === 32) i--;
    if (field === 0 && block.charCodeAt(i--) !== 44) return false;
  }
  return block.charCodeAt(i) === 44;
}

/**
 * Whether the operation field stands between `start` and `end`: a comma
 * before it (after the ids) and after it, blanks allowed around it.
 */
function isOperationField(block: string, start: number, end: number): boolean {
  while (block.charCodeAt(end) === 32) end++;
  if (block.charCodeAt(end) !== 44) return false;
  do start--; while (block.charCodeAt(start) === 32);
  return block.charCodeAt(start) === 44 && afterIds(block, start);
}

/**
 * Whether a `CONNECT` found at `i` is a connection event's operation field
 * (`,12,0,CONNECT,`, `,12,0,FAILED_CONNECT,` ...). Query text that quotes an
 * operation rarely has the ids before it, and is rejected without being parsed.
 */
function isConnectOperation(block: string, i: number): boolean {
  let start = i;
  if (block.charCodeAt(i - 1) === 95 /* _ */) {
    if (block.startsWith("FAILED_", i - 7)) start = i - 7;
    else if (block.startsWith("PROXY_", i - 6)) start = i - 6;
    else return false;
  }
  return isOperationField(block, start, i + 7);
}

/** Whether a `CHANGE` found at `i` starts a `CHANGEUSER` or `CHANGE_USER` operation field. */
function isChangeOperation(block: string, i: number): boolean {
  if (block.startsWith("CHANGEUSER", i)) return isOperationField(block, i, i + 10);
  return block.startsWith("CHANGE_USER", i) && isOperationField(block, i, i + 11);
}

/** The next connection event's operation field at or after `from`, or `Infinity`. */
function nextOperation(
  block: string,
  needle: string,
  from: number,
  isOperation: (block: string, i: number) => boolean,
): number {
  for (let i = block.indexOf(needle, from); i !== -1; i = block.indexOf(needle, i + 1)) {
    if (isOperation(block, i)) return i;
  }
  return Infinity;
}

/**
 * Scans a block of complete lines (a binary string) and calls `visit` in log
 * order, with the parsed record and its line, for every connection event (`CONNECT`, `FAILED_CONNECT`,
 * `CHANGEUSER`, `PROXY_CONNECT`) and every line whose connection id is in
 * `watched` at the time the scan reaches it. Other lines are not split.
 *
 * @example
 * ```ts
 * const seen: string[] = [];
 * scanBlock("t,vm,a,h,1,5,QUERY,,'x,CONNECT,y',0\nt,vm,a,h,2,0,CONNECT,,,0\n", 0, new Set(),
 *   (r) => seen.push(r.operation), { candidates: 0, malformed: 0 });
 * seen; // ["CONNECT"]
 * ```
 */
export function scanBlock(
  block: string,
  timestampCommas: number,
  watched: ReadonlySet<string>,
  visit: (record: AuditRecord, line: string) => void,
  stats: ScanStats,
): void {
  let nextConnect = nextOperation(block, "CONNECT", 0, isConnectOperation);
  let nextChange = nextOperation(block, "CHANGE", 0, isChangeOperation);
  const nextWatched = new Map<string, number>();
  let pos = 0;
  while (pos < block.length) {
    if (nextConnect < pos) nextConnect = nextOperation(block, "CONNECT", pos, isConnectOperation);
    if (nextChange < pos) nextChange = nextOperation(block, "CHANGE", pos, isChangeOperation);
    let at = Math.min(nextConnect, nextChange);
    for (const id of watched) {
      let p = nextWatched.get(id);
      if (p === undefined || p < pos) {
        const found = block.indexOf(`,${id},`, pos);
        p = found === -1 ? Infinity : found;
        nextWatched.set(id, p);
      }
      if (p < at) at = p;
    }
    if (at === Infinity) return;
    const start = block.lastIndexOf("\n", at) + 1;
    let end = block.indexOf("\n", at);
    if (end === -1) end = block.length;
    stats.candidates++;
    const line = decodeBinary(detach(block, start, end));
    const record = parseRecord(line, timestampCommas);
    if (record) visit(record, line);
    else stats.malformed++;
    pos = end + 1;
  }
}
