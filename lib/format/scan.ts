/**
 * Scanning a block of complete audit lines for the few that matter (connection
 * events, lines of watched connections) without splitting the others: the hot
 * path of a run.
 *
 * Blocks are "binary strings" (one character per byte, as
 * `Buffer.latin1Slice` makes them), so that byte offsets are string offsets and
 * invalid UTF-8 cannot break a search; the fields of the lines that matter are
 * then decoded as UTF-8.
 *
 * @module
 */

import { type AuditRecord, decodeBinary, parseRecord } from "./record.ts";

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
 * Only the ids anchor it: a user name or database with commas changes nothing.
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

/** What {@link scanBlock} looks for and whom it tells: made once per range, not per block. */
export interface BlockScan {
  /** How many commas a timestamp contains (see `LineFormat`). */
  timestampCommas: number;
  /** Connection ids whose every line is wanted; `visit` may change it. */
  watched: ReadonlySet<string>;
  /** Called in log order with each line that matters, parsed, and the line. */
  visit: (record: AuditRecord, line: string) => void;
  stats: ScanStats;
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
 * scanBlock("t,vm,a,h,1,5,QUERY,,'x,CONNECT,y',0\nt,vm,a,h,2,0,CONNECT,,,0\n", {
 *   timestampCommas: 0,
 *   watched: new Set(),
 *   visit: (r) => seen.push(r.operation),
 *   stats: { candidates: 0, malformed: 0 },
 * });
 * seen; // ["CONNECT"]
 * ```
 */
export function scanBlock(block: string, scan: BlockScan): void {
  const { timestampCommas, watched, visit, stats } = scan;
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
