// The line scanner, in AssemblyScript (not TypeScript: `deno task wasm` builds it into
// lib/format/scanner_wasm.ts). For every complete line of the input it locates the header
// (timestamp, server host, user, host, connection id, query id, operation) when the line has
// the plain shape (no comma in the user name, no blank around the ids or the operation), and
// writes a record for the lines that may matter: connection events, lines of watched
// connections, and lines it cannot read this way (the caller reads those as text).

// Memory: [INPUT, INPUT + INPUT_BYTES + 64) input, then the records, then the watched ids.
const INPUT: usize = 65536;
const INPUT_BYTES: i32 = 2 << 20;
const OUTPUT: usize = INPUT + <usize>INPUT_BYTES + 64;
/** i32 fields per record. */
const FIELDS: i32 = 12;
const OUTPUT_RECORDS: i32 = 16384;
const WATCH: usize = OUTPUT + <usize>(OUTPUT_RECORDS * FIELDS * 4);
const WATCH_SLOTS: u32 = 4096;
const WATCH_LIMIT: u32 = 2048;
const COMMAS: usize = WATCH + <usize>(WATCH_SLOTS * 16);

// Record fields: line start, line end (before its newline), the commas after the timestamp,
// server host, user, host, connection id, query id and operation, the end of the account key
// (the host without a port), a hash of the key, and flags: operation code (bits 0-3), watched
// (bit 4), located (bit 5).
const OP_OTHER: i32 = 0;
const OP_CONNECT: i32 = 1;
const OP_FAILED_CONNECT: i32 = 2;
const OP_CHANGEUSER: i32 = 3;
const OP_PROXY_CONNECT: i32 = 4;
const OP_DISCONNECT: i32 = 5;
const WATCHED: i32 = 16;
const LOCATED: i32 = 32;

let watchCount: u32 = 0;
let resume: i32 = 0;

export function input(): usize {
  return INPUT;
}
export function inputBytes(): i32 {
  return INPUT_BYTES;
}
export function output(): usize {
  return OUTPUT;
}
/** Where {@link scan} stopped: the start of the first line not scanned. */
export function resumeAt(): i32 {
  return resume;
}
/** Scratch space for {@link watchAdd}'s digits. */
export function scratch(): usize {
  return COMMAS + 256;
}

@inline function slotOf(value: u64, len: u32): u32 {
  return <u32>(((value + <u64>len) * 0x9E3779B97F4A7C15) >> 50) & (WATCH_SLOTS - 1);
}

export function watchClear(): void {
  if (watchCount == 0) return;
  memory.fill(WATCH, 0, <usize>(WATCH_SLOTS * 16));
  watchCount = 0;
}

function watchInsert(value: u64, len: u32): void {
  if (watchCount >= WATCH_LIMIT) return;
  let s = slotOf(value, len);
  for (;;) {
    const at = WATCH + <usize>(s * 16);
    const l = load<u32>(at + 8);
    if (l == 0) {
      store<u64>(at, value);
      store<u32>(at + 8, len);
      watchCount++;
      return;
    }
    if (l == len && load<u64>(at) == value) return;
    s = (s + 1) & (WATCH_SLOTS - 1);
  }
}

@inline function watching(value: u64, len: u32): bool {
  if (watchCount == 0) return false;
  if (watchCount >= WATCH_LIMIT) return true;
  let s = slotOf(value, len);
  let l = load<u32>(WATCH + <usize>(s * 16) + 8);
  while (l != 0) {
    if (l == len && load<u64>(WATCH + <usize>(s * 16)) == value) return true;
    s = (s + 1) & (WATCH_SLOTS - 1);
    l = load<u32>(WATCH + <usize>(s * 16) + 8);
  }
  return false;
}

/**
 * Watches a connection id (its digits at scratch()). Ids of more than 19 digits, or that are
 * not digits, make every line watched.
 */
export function watchAdd(len: i32): void {
  const at = scratch();
  let value: u64 = 0;
  let ok = len > 0 && len <= 19;
  for (let i = 0; i < len && ok; i++) {
    const c = <u32>load<u8>(at + <usize>i) - 48;
    if (c > 9) ok = false;
    value = value * 10 + <u64>c;
  }
  if (ok) watchInsert(value, <u32>len);
  else watchCount = WATCH_LIMIT;
}

@inline function nextNewline(p: usize, end: usize): usize {
  const nl = i8x16.splat(10);
  while (p + 32 <= end) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(p), nl)) |
      (i8x16.bitmask(i8x16.eq(v128.load(p + 16), nl)) << 16);
    if (m != 0) return p + <usize>ctz(m);
    p += 32;
  }
  while (p + 16 <= end) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(p), nl));
    if (m != 0) return p + <usize>ctz(m);
    p += 16;
  }
  while (p < end && load<u8>(p) != 10) p++;
  return p;
}

/** Bits [from, to) of a 32-bit mask (to - from < 32). */
@inline function bits(from: usize, to: usize): u32 {
  return ((<u32>1 << <u32>(to - from)) - 1) << <u32>from;
}

/** The value of the digits [s, e). */
@inline function digitsValue(s: usize, e: usize): u64 {
  let value: u64 = 0;
  for (let q = s; q < e; q++) value = value * 10 + <u64>(load<u8>(q) - 48);
  return value;
}

@inline function isDigit(c: u32): bool {
  return c - 48 <= 9;
}

/** The operation code of the bytes [s, e). */
function opCode(s: usize, e: usize): i32 {
  const n = e - s;
  if (n == 7) {
    if (load<u32>(s) == 0x4e4e4f43 && load<u16>(s + 4) == 0x4345 && load<u8>(s + 6) == 0x54) {
      return OP_CONNECT; // CONNECT
    }
    return OP_OTHER;
  }
  if (n == 14) {
    // FAILED_CONNECT
    if (load<u64>(s) == 0x435f44454c494146 && load<u32>(s + 8) == 0x454e4e4f && load<u16>(s + 12) == 0x5443) {
      return OP_FAILED_CONNECT;
    }
    return OP_OTHER;
  }
  if (n == 10) {
    // CHANGEUSER, DISCONNECT
    const a = load<u64>(s), b = load<u16>(s + 8);
    if (a == 0x535545474e414843 && b == 0x5245) return OP_CHANGEUSER;
    if (a == 0x454e4e4f43534944 && b == 0x5443) return OP_DISCONNECT;
    return OP_OTHER;
  }
  if (n == 11) {
    // CHANGE_USER
    if (load<u64>(s) == 0x555f45474e414843 && load<u16>(s + 8) == 0x4553 && load<u8>(s + 10) == 0x52) {
      return OP_CHANGEUSER;
    }
    return OP_OTHER;
  }
  if (n == 13) {
    // PROXY_CONNECT
    if (load<u64>(s) == 0x4f435f59584f5250 && load<u32>(s + 8) == 0x43454e4e && load<u8>(s + 12) == 0x54) {
      return OP_PROXY_CONNECT;
    }
  }
  return OP_OTHER;
}

/** FNV-1a over [s, e). */
@inline function hashOf(s: usize, e: usize): u32 {
  let h: u32 = 2166136261;
  for (let p = s; p < e; p++) h = (h ^ <u32>load<u8>(p)) * 16777619;
  return h;
}

/** The end of a host's account key: before a `:port` or `:unavailable` that stripPort() removes. */
function keyEnd(s: usize, e: usize): usize {
  if (s == e || load<u8>(s) == 91 /* [ */) return e;
  let colon: usize = 0;
  let colons = 0;
  for (let p = s; p < e; p++) {
    if (load<u8>(p) == 58) {
      colons++;
      colon = p;
    }
  }
  if (colons == 0) return e;
  // ":unavailable"
  if (
    e - s >= 12 && load<u32>(e - 12) == 0x616e753a && load<u64>(e - 8) == 0x656c62616c696176
  ) return e - 12;
  if (colons != 1) return e;
  const digits = e - colon - 1;
  if (digits < 1 || digits > 5) return e;
  for (let p = colon + 1; p < e; p++) if (!isDigit(<u32>load<u8>(p))) return e;
  return colon;
}

/**
 * Whether [s, comma) starts with a syslog header as parseSyslogLine() reads it: a timestamp (up to
 * the first blank when it starts with a digit, else `Mmm dd HH:MM:SS`), a blank, a host, a blank,
 * and a tag whose colon comes before the line's first comma. Headers of up to 64 bytes are read
 * with SIMD (blank and colon masks), longer ones byte by byte.
 */
function isSyslogHeader(s: usize, comma: usize): bool {
  const n = comma - s;
  if (n > 64) return isLongSyslogHeader(s, comma);
  const blank = i8x16.splat(32), colon = i8x16.splat(58);
  let blanks: u64 = 0, colons: u64 = 0;
  for (let i: usize = 0; i < 4; i++) {
    const v = v128.load(s + i * 16);
    blanks |= (<u64>i8x16.bitmask(i8x16.eq(v, blank))) << (i * 16);
    colons |= (<u64>i8x16.bitmask(i8x16.eq(v, colon))) << (i * 16);
  }
  const keep: u64 = n == 64 ? <u64>-1 : (<u64>1 << <u64>n) - 1;
  blanks &= keep;
  colons &= keep;
  let t: u64;
  if (isDigit(<u32>load<u8>(s))) {
    if (blanks == 0) return false;
    t = ctz(blanks);
  } else {
    if (n <= 15 || ((blanks >> 3) & 1) == 0 || ((blanks >> 15) & 1) == 0) return false;
    t = 15;
  }
  // The first blank after the timestamp's ends the host; the first colon after it, the tag.
  const afterT = blanks & ~((<u64>2 << t) - 1);
  if (t == 63 || afterT == 0) return false;
  const h = ctz(afterT);
  if (h == t + 1 || h == 63) return false;
  const afterH = colons & ~((<u64>2 << h) - 1);
  return afterH != 0 && ctz(afterH) > h + 1;
}

/** {@link isSyslogHeader} byte by byte. */
function isLongSyslogHeader(s: usize, comma: usize): bool {
  let t = s;
  if (isDigit(<u32>load<u8>(s))) {
    while (t < comma && load<u8>(t) != 32) t++;
  } else {
    t = s + 15;
    if (t >= comma || load<u8>(s + 3) != 32 || load<u8>(t) != 32) return false;
  }
  let h = t + 1;
  while (h < comma && load<u8>(h) != 32) h++;
  if (h >= comma || h == t + 1) return false;
  let c = h + 1;
  while (c < comma && load<u8>(c) != 58) c++;
  return c < comma && c > h + 1;
}

/**
 * Scans the complete lines in [start, end) of the memory (`end` just after a newline) that
 * start before `stop`, and writes records for those that may matter; returns how many. Stops
 * early when the records are full: resumeAt() then says where to go on. `tc` is how many
 * commas a timestamp holds; -1 for syslog lines, whose first field is the server host behind the
 * syslog header (located only when that header has the shape parseSyslogLine reads, its tag's
 * colon before the first comma: then no comma of the header shifts the fields).
 */
export function scan(start: i32, end: i32, tc: i32, stop: i32): i32 {
  const comma = i8x16.splat(44);
  const limit = <usize>end;
  const need = tc + 7;
  let p = <usize>start;
  let n = 0;
  while (p < limit && p < <usize>stop) {
    if (n == OUTPUT_RECORDS) break;
    // The commas of the header, up to the one after the operation, and the line's end.
    const nl = i8x16.splat(10);
    let k = 0;
    let lineEnd = limit;
    let q = p;
    while (q < limit) {
      const v = v128.load(q);
      let m = i8x16.bitmask(i8x16.eq(v, comma));
      let n = i8x16.bitmask(i8x16.eq(v, nl));
      const left = limit - q;
      if (left < 16) {
        m &= (1 << <i32>left) - 1;
        n &= (1 << <i32>left) - 1;
      }
      if (n != 0) m &= (1 << ctz(n)) - 1;
      while (m != 0 && k < need) {
        store<u32>(COMMAS + <usize>(k << 2), <u32>(q + <usize>ctz(m)));
        k++;
        m &= m - 1;
      }
      if (n != 0) {
        lineEnd = q + <usize>ctz(n);
        break;
      }
      q += 16;
      if (k == need) {
        lineEnd = nextNewline(q, limit);
        break;
      }
    }
    const rec = OUTPUT + <usize>(n * FIELDS * 4);
    let flags = 0;
    if (k == need) {
      // Without a timestamp field, a comma just before the line stands for its end.
      const c0 = tc < 0 ? p - 1 : <usize>load<u32>(COMMAS + <usize>(tc << 2));
      const c3 = <usize>load<u32>(COMMAS + <usize>((tc + 3) << 2));
      const c4 = <usize>load<u32>(COMMAS + <usize>((tc + 4) << 2));
      const c5 = <usize>load<u32>(COMMAS + <usize>((tc + 5) << 2));
      const c6 = <usize>load<u32>(COMMAS + <usize>((tc + 6) << 2));
      let ok = c4 > c3 + 1 && c5 > c4 + 1 && c6 > c5 + 1 &&
        (tc < 0
          ? isSyslogHeader(p, <usize>load<u32>(COMMAS))
          : c0 > p && load<u8>(p) != 32 && load<u8>(c0 - 1) != 32);
      // The ids digits, the operation capitals and `_`: 32 bytes from the id at once.
      if (ok && c6 - c3 <= 32 && c4 - c3 - 1 <= 19) {
        const a = v128.load(c3 + 1), b = v128.load(c3 + 17);
        const ten = i8x16.splat(10), zero = i8x16.splat(48);
        const digits = i8x16.bitmask(i8x16.lt_u(i8x16.sub(a, zero), ten)) |
          (i8x16.bitmask(i8x16.lt_u(i8x16.sub(b, zero), ten)) << 16);
        const upper = i8x16.splat(65), letters = i8x16.splat(26), under = i8x16.splat(95);
        const caps = (i8x16.bitmask(i8x16.lt_u(i8x16.sub(a, upper), letters)) |
          i8x16.bitmask(i8x16.eq(a, under))) |
          ((i8x16.bitmask(i8x16.lt_u(i8x16.sub(b, upper), letters)) |
            i8x16.bitmask(i8x16.eq(b, under))) << 16);
        const base = c3 + 1;
        const idMask = bits(c3 + 1 - base, c4 - base);
        const queryMask = bits(c4 + 1 - base, c5 - base);
        const opMask = bits(c5 + 1 - base, c6 - base);
        ok = (digits & idMask) == idMask && (digits & queryMask) == queryMask &&
          (caps & opMask) == opMask;
      } else if (ok && c4 - c3 - 1 <= 19) {
        // Longer ids (a server up for long) or operation: byte by byte.
        for (let q = c3 + 1; ok && q < c5; q++) if (q != c4 && !isDigit(<u32>load<u8>(q))) ok = false;
        for (let q = c5 + 1; ok && q < c6; q++) {
          const c = <u32>load<u8>(q);
          if ((c - 65 > 25) && c != 95) ok = false;
        }
      } else ok = false;
      if (ok) {
        const op = opCode(c5 + 1, c6);
        const watched = watchCount != 0 && watching(digitsValue(c3 + 1, c4), <u32>(c4 - c3 - 1));
        if ((op >= OP_CONNECT && op <= OP_PROXY_CONNECT) || watched) {
          flags = op | LOCATED | (watched ? WATCHED : 0);
          const c1 = <usize>load<u32>(COMMAS + <usize>((tc + 1) << 2));
          const c2 = <usize>load<u32>(COMMAS + <usize>((tc + 2) << 2));
          const ke = keyEnd(c2 + 1, c3);
          store<i32>(rec + 8, <i32>c0);
          store<i32>(rec + 12, <i32>c1);
          store<i32>(rec + 16, <i32>c2);
          store<i32>(rec + 20, <i32>c3);
          store<i32>(rec + 24, <i32>c4);
          store<i32>(rec + 28, <i32>c5);
          store<i32>(rec + 32, <i32>c6);
          store<i32>(rec + 36, <i32>ke);
          store<u32>(rec + 40, hashOf(c1 + 1, ke));
          // A change-user may leave its connection pending: watch it from here on.
          if (op == OP_CHANGEUSER) watchInsert(digitsValue(c3 + 1, c4), <u32>(c4 - c3 - 1));
        } else flags = -1;
      }
    }
    if (flags != -1) {
      store<i32>(rec, <i32>p);
      store<i32>(rec + 4, <i32>lineEnd);
      store<i32>(rec + 44, flags);
      n++;
    }
    p = lineEnd + 1;
  }
  resume = <i32>p;
  return n;
}
