/**
 * Scanning a block of complete audit lines (bytes) for the few that matter
 * (connection events, lines of watched connections) without decoding the
 * others: the hot path of a run.
 *
 * A WebAssembly scanner (`wasm/scanner.ts`, embedded as bytes) walks the
 * lines with SIMD and, for every line of the plain shape (no comma in the user
 * name, no blanks around the ids and the operation), locates its header
 * fields: for those, the rule of `parseHeader` is the same as reading the
 * fields in order. It reports the sign-in events, the lines of connections
 * that may be watched (a superset, so that a change-user earlier in the same
 * block is never missed), and every line it cannot read so. A located
 * sign-in can then be counted straight from its bytes ({@link LocatedEvent});
 * every other line reported is decoded as UTF-8 and parsed by `parseRecord`,
 * exactly as before this scanner: a line whose text (`,<digits>,<digits>,`
 * and a connection operation, or `,<id>,` of a watched connection) may make it
 * matter.
 *
 * @module
 */

import { toBinary } from "../input/file.ts";
import { type AuditRecord, decodeBinary, parseRecord } from "./record.ts";
import { SCANNER_WASM } from "./scanner_wasm.ts";
import { locateSyslogHeader, parseSyslogRecord } from "./syslog.ts";

/** What a scan saw. */
export interface ScanStats {
  /** Lines read as events: connection events and lines of watched connections. */
  candidates: number;
  /** Lines looked at that are not audit events. */
  malformed: number;
}

/** Whether the comma at `comma` ends `,[ ]digits[ ],[ ]digits[ ]`: a line's connection and query ids. */
function afterIds(line: string, comma: number): boolean {
  let i = comma - 1;
  for (let field = 0; field < 2; field++) {
    while (line.charCodeAt(i) === 32) i--;
    const last = i;
    while (i >= 0 && line.charCodeAt(i) >= 48 && line.charCodeAt(i) <= 57) i--;
    if (i === last) return false;
    while (line.charCodeAt(i) === 32) i--;
    if (field === 0 && line.charCodeAt(i--) !== 44) return false;
  }
  return line.charCodeAt(i) === 44;
}

/**
 * Whether the operation field stands between `start` and `end`: a comma
 * before it (after the ids) and after it, blanks allowed around it.
 */
function isOperationField(line: string, start: number, end: number): boolean {
  while (line.charCodeAt(end) === 32) end++;
  if (line.charCodeAt(end) !== 44) return false;
  do start--; while (line.charCodeAt(start) === 32);
  return line.charCodeAt(start) === 44 && afterIds(line, start);
}

/**
 * Whether a `CONNECT` found at `i` is a connection event's operation field
 * (`,12,0,CONNECT,`, `,12,0,FAILED_CONNECT,` ...). Query text that quotes an
 * operation rarely has the ids before it, and is rejected without being parsed.
 * Only the ids anchor it: a user name or database with commas changes nothing.
 */
function isConnectOperation(line: string, i: number): boolean {
  let start = i;
  if (line.charCodeAt(i - 1) === 95 /* _ */) {
    if (line.startsWith("FAILED_", i - 7)) start = i - 7;
    else if (line.startsWith("PROXY_", i - 6)) start = i - 6;
    else return false;
  }
  return isOperationField(line, start, i + 7);
}

/** Whether a `CHANGE` found at `i` starts a `CHANGEUSER` or `CHANGE_USER` operation field. */
function isChangeOperation(line: string, i: number): boolean {
  if (line.startsWith("CHANGEUSER", i)) return isOperationField(line, i, i + 10);
  return line.startsWith("CHANGE_USER", i) && isOperationField(line, i, i + 11);
}

/** Whether `line` holds an operation field that `isOperation` accepts at a `needle`. */
function hasOperation(
  line: string,
  needle: string,
  isOperation: (line: string, i: number) => boolean,
): boolean {
  for (let i = line.indexOf(needle); i !== -1; i = line.indexOf(needle, i + 1)) {
    if (isOperation(line, i)) return true;
  }
  return false;
}

/** Whether `line` holds `id` as a field of its own: commas around it, blanks allowed. */
function hasField(line: string, id: string): boolean {
  for (let i = line.indexOf(id); i !== -1; i = line.indexOf(id, i + 1)) {
    let before = i - 1, after = i + id.length;
    while (line.charCodeAt(before) === 32) before--;
    while (line.charCodeAt(after) === 32) after++;
    if (line.charCodeAt(before) === 44 && line.charCodeAt(after) === 44) return true;
  }
  return false;
}

/**
 * Whether a line the scanner could not locate may matter: it has a
 * connection operation after two fields of digits, or a watched id as a
 * field.
 */
function mayMatter(line: string, watched: ReadonlySet<string>): boolean {
  if (hasOperation(line, "CONNECT", isConnectOperation)) return true;
  if (hasOperation(line, "CHANGE", isChangeOperation)) return true;
  for (const id of watched) if (hasField(line, id)) return true;
  return false;
}

/**
 * The operation of a {@link LocatedEvent}: a connection event's but
 * `PROXY_CONNECT` (`CHANGE_USER` spelled `CHANGEUSER`), or `""` for any
 * other.
 */
export type LocatedOperation = "CONNECT" | "FAILED_CONNECT" | "CHANGEUSER" | "DISCONNECT" | "";

/**
 * A line located in the scanner's memory that `parseRecord` would read as
 * a record (valid only during the call it is passed to, and reused for the
 * next): byte offsets of its fields, each field from the byte after the
 * comma before it to the comma after it. It is a sign-in, or a line of a
 * watched connection.
 */
export interface LocatedEvent {
  bytes: Uint8Array;
  /** The line's first byte: the timestamp's. */
  start: number;
  /** The end of the line (its newline). */
  end: number;
  timestampEnd: number;
  /** The server host's first byte: after the timestamp's comma, or a syslog line's header. */
  serverStart: number;
  serverEnd: number;
  userEnd: number;
  hostEnd: number;
  idEnd: number;
  /** The end of the account key: the host without the `:port` or `:unavailable` that `stripPort` removes. */
  keyEnd: number;
  /** A hash of the bytes from the user's first to `keyEnd`. */
  keyHash: number;
  operation: LocatedOperation;
  /** Whether the retcode is `0`. */
  successful: boolean;
  /** Whether its connection id is in the scan's `watched`. */
  watched: boolean;
}

/** What {@link scanBlock} looks for and whom it tells: made once per range, not per block. */
export interface BlockScan {
  /** How many commas a timestamp contains (see `LineFormat`). */
  timestampCommas: number;
  /**
   * Set for syslog lines: the plugin's ident. Other programs' lines are passed
   * over. The scanner locates the fields behind the syslog header (the first
   * field is the header and the server host); a located line's header is read
   * by `locateSyslogHeader`, and the line goes to `event` as a file line does.
   */
  syslogIdent?: string;
  /** Connection ids whose every line is wanted; `visit` and `event` may change it. */
  watched: ReadonlySet<string>;
  /** Called in log order with each line that matters, parsed, and the line. */
  visit: (record: AuditRecord, line: string) => void;
  /**
   * Called instead of `visit` for a located line (a sign-in but
   * `PROXY_CONNECT`, or a line of a watched connection); `false` has it
   * visited after all.
   */
  event?: (event: LocatedEvent) => boolean;
  stats: ScanStats;
}

interface ScannerExports {
  memory: WebAssembly.Memory;
  input(): number;
  inputBytes(): number;
  output(): number;
  resumeAt(): number;
  scratch(): number;
  watchClear(): void;
  watchAdd(length: number): void;
  scan(start: number, end: number, timestampCommas: number, stop: number): number;
}

/** Int32 fields per record the scanner writes (see `wasm/scanner.ts`). */
const FIELDS = 12;
const RECORDS = 16384;
const LOCATED = 32;
const WATCHED = 16;
/** By the scanner's operation code; `PROXY_CONNECT` (4) is read as text. */
const OPERATIONS: (LocatedOperation | undefined)[] = [
  "",
  "CONNECT",
  "FAILED_CONNECT",
  "CHANGEUSER",
  undefined,
  "DISCONNECT",
];

interface Scanner {
  exports: ScannerExports;
  memory: Uint8Array;
  input: Uint8Array;
  records: Int32Array;
  event: LocatedEvent;
}

let instance: Scanner | undefined;

/** The scanner of this thread, made on first use. */
function scanner(): Scanner {
  if (instance) return instance;
  const bytes = Uint8Array.from(atob(SCANNER_WASM), (c) => c.charCodeAt(0));
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes))
    .exports as unknown as ScannerExports;
  const memory = new Uint8Array(exports.memory.buffer);
  const input = memory.subarray(exports.input(), exports.input() + exports.inputBytes());
  instance = {
    exports,
    memory,
    input,
    records: new Int32Array(exports.memory.buffer, exports.output(), RECORDS * FIELDS),
    event: {
      bytes: memory,
      start: 0,
      end: 0,
      timestampEnd: 0,
      serverStart: 0,
      serverEnd: 0,
      userEnd: 0,
      hostEnd: 0,
      idEnd: 0,
      keyEnd: 0,
      keyHash: 0,
      operation: "CONNECT",
      successful: false,
      watched: false,
    },
  };
  return instance;
}

/**
 * The buffer a reader should read into: blocks that lie in it are scanned
 * where they are, others are copied into it first. Its length bounds the
 * lines a block can hold (see `readBlocks`).
 *
 * @example
 * ```ts
 * scanBuffer().length; // 2 MiB
 * ```
 */
export function scanBuffer(): Uint8Array {
  return scanner().input;
}

/** Loads the watched connection ids into the scanner (it adds change-users' ids itself). */
function loadWatched(s: Scanner, watched: ReadonlySet<string>): void {
  s.exports.watchClear();
  const scratch = s.exports.scratch();
  for (const id of watched) {
    const n = Math.min(id.length, 64);
    for (let i = 0; i < n; i++) s.memory[scratch + i] = id.charCodeAt(i);
    s.exports.watchAdd(id.length <= 64 ? id.length : 0);
  }
}

/**
 * Whether [start, end) is a retcode (digits, a `-` before them), blanks
 * around it allowed, and then whether it is `0`: 0 not a number, 1 a number,
 * 2 zero.
 */
function retcodeKind(bytes: Uint8Array, start: number, end: number): number {
  while (start < end && bytes[start] === 32) start++;
  while (end > start && bytes[end - 1] === 32) end--;
  const zero = end - start === 1 && bytes[start] === 48;
  if (bytes[start] === 45 /* - */) start++;
  if (start === end) return 0;
  for (let i = start; i < end; i++) if (bytes[i] < 48 || bytes[i] > 57) return 0;
  return zero ? 2 : 1;
}

/**
 * The retcode of a connection event from the fields after its operation
 * (`rest` to `end`), as `parseRecord` reads it: 0 when the line is no event,
 * 1 a retcode, 2 the retcode `0`.
 */
function connectionRetcode(bytes: Uint8Array, rest: number, end: number): number {
  let last = -1, second = -1, third = -1;
  for (let i = end - 1; i >= rest && third === -1; i--) {
    if (bytes[i] !== 44) continue;
    if (last === -1) last = i;
    else if (second === -1) second = i;
    else third = i;
  }
  if (second === -1) return 0;
  const tail = retcodeKind(bytes, last + 1, end);
  if (tail === 0 && third !== -1) return retcodeKind(bytes, second + 1, last);
  return tail;
}

/** Decodes, parses and visits a line the scanner reported, if it may matter. */
function visitLine(scan: BlockScan, line: string, located: boolean): void {
  if (!located && !mayMatter(line, scan.watched)) return;
  scan.stats.candidates++;
  const record = scan.syslogIdent === undefined
    ? parseRecord(line, scan.timestampCommas)
    : parseSyslogRecord(line, scan.syslogIdent);
  if (record) scan.visit(record, line);
  else if (record === undefined) scan.stats.malformed++;
}

/** The connection id of a located line, as text. */
function connectionIdText(s: Scanner, at: number): string {
  return toBinary(s.memory, s.records[at + 5] + 1, s.records[at + 6]);
}

/**
 * Handles the records of one scanner pass over lines in its memory. Returns
 * where to scan again when a line it could not locate started watching a
 * connection (the scanner did not know it), or -1.
 */
function handleRecords(s: Scanner, count: number, scan: BlockScan): number {
  const { records, memory } = s;
  for (let r = 0; r < count; r++) {
    const at = r * FIELDS;
    const start = records[at], end = records[at + 1], flags = records[at + 11];
    if ((flags & LOCATED) === 0) {
      const size = scan.watched.size;
      visitLine(scan, decodeBinary(toBinary(memory, start, end)), false);
      if (scan.watched.size > size) return end + 1;
      continue;
    }
    const code = flags & 15;
    const watched = (flags & WATCHED) !== 0 && scan.watched.has(connectionIdText(s, at));
    // Only sign-ins matter on a connection not watched.
    if (!watched && (code === 0 || code === 5)) continue;
    const operation = OPERATIONS[code];
    let timestampEnd = records[at + 2], serverStart = timestampEnd + 1, fast = true;
    if (scan.syslogIdent !== undefined && operation !== undefined && scan.event) {
      const header = locateSyslogHeader(memory, start, records[at + 3], scan.syslogIdent);
      // Another program's line.
      if (header === null) continue;
      if (header) ({ timestampEnd, serverStart } = header);
      else fast = false;
    }
    if (operation !== undefined && scan.event && fast) {
      const lineEnd = memory[end - 1] === 13 ? end - 1 : end;
      const rest = records[at + 8] + 1;
      // As parseRecord reads the fields after the operation (0: it reads no record).
      const retcode = code === 0
        ? (memory.subarray(rest, lineEnd).includes(44) ? 1 : 0)
        : connectionRetcode(memory, rest, lineEnd);
      if (retcode !== 0) {
        const e = s.event;
        e.start = start;
        e.end = end;
        e.timestampEnd = timestampEnd;
        e.serverStart = serverStart;
        e.serverEnd = records[at + 3];
        e.userEnd = records[at + 4];
        e.hostEnd = records[at + 5];
        e.idEnd = records[at + 6];
        e.keyEnd = records[at + 9];
        e.keyHash = records[at + 10];
        e.operation = operation;
        e.successful = retcode === 2;
        e.watched = watched;
        if (scan.event(e)) {
          scan.stats.candidates++;
          continue;
        }
      }
    }
    visitLine(scan, decodeBinary(toBinary(memory, start, end)), true);
  }
  return -1;
}

/**
 * Lines scanned per pass: the watched ids are loaded again before each, which
 * drops those no longer watched (the scanner only adds ids).
 */
const PASS_BYTES = 128 << 10;

/** Scans lines that lie in the scanner's input buffer, [from, to). */
function scanInPlace(s: Scanner, from: number, to: number, scan: BlockScan): void {
  const base = s.exports.input();
  for (let start = base + from; start < base + to;) {
    loadWatched(s, scan.watched);
    // A syslog line's first field is its header and server host: -1 timestamp commas.
    const commas = scan.syslogIdent === undefined ? scan.timestampCommas : -1;
    const count = s.exports.scan(start, base + to, commas, start + PASS_BYTES);
    const again = handleRecords(s, count, scan);
    start = again === -1 ? s.exports.resumeAt() : again;
  }
}

/**
 * Scans a block of complete lines (bytes, each line ending in `\n`) and
 * calls, in log order, `event` for every located sign-in (`CONNECT`,
 * `FAILED_CONNECT`, `CHANGEUSER`) on a connection not watched, and `visit`
 * with the parsed record and its line for every other connection event and
 * every line whose connection id is in `watched` at the time the scan
 * reaches it. Other lines are not decoded.
 *
 * @example
 * ```ts
 * const seen: string[] = [];
 * const text = "t,vm,a,h,1,5,QUERY,,'x,CONNECT,y',0\nt,vm,a,h,2,0,CONNECT,,,0\n";
 * scanBlock(new TextEncoder().encode(text), {
 *   timestampCommas: 0,
 *   watched: new Set(),
 *   visit: (r) => seen.push(r.operation),
 *   stats: { candidates: 0, malformed: 0 },
 * });
 * seen; // ["CONNECT"]
 * ```
 */
export function scanBlock(block: Uint8Array, scan: BlockScan): void {
  const s = scanner();
  if (block.buffer === s.memory.buffer) {
    const from = block.byteOffset - s.exports.input();
    scanInPlace(s, from, from + block.length, scan);
    return;
  }
  // Copied in pieces of whole lines; a line longer than the buffer is read as text.
  for (let start = 0; start < block.length;) {
    let end = Math.min(block.length, start + s.input.length);
    if (end < block.length) end = block.lastIndexOf(10, end - 1) + 1;
    if (end <= start) {
      const newline = block.indexOf(10, start);
      end = newline === -1 ? block.length : newline + 1;
      visitLine(scan, decodeBinary(toBinary(block, start, newline === -1 ? end : newline)), false);
    } else {
      s.input.set(block.subarray(start, end));
      scanInPlace(s, 0, end - start, scan);
    }
    start = end;
  }
}
