/**
 * The accounts of a tally in flat typed arrays: one open-addressing hash
 * table keyed by the UTF-8 bytes of user and host, their bytes in one arena,
 * their counts and instants in one `Float64Array`. A connection event adds
 * to an account without allocating: with a connection-heavy log, which can
 * name hundreds of thousands of accounts, objects and strings per account
 * cost more time (garbage collection, cache misses) and memory than the
 * counting itself. Activities are made from it once, at the end of a run.
 *
 * @module
 */

/** What one `user@host` did. Times are epoch milliseconds. */
export interface Activity {
  user: string;
  host: string;
  /** The server host of its latest event. */
  serverHost: string;
  logins: number;
  firstLogin?: number;
  lastLogin?: number;
  failed: number;
  lastFailed?: number;
}

/**
 * The hash of an account key as the scanner computes it (see
 * `LocatedEvent.keyHash`): FNV-1a over the user's bytes, a comma and the
 * host's.
 *
 * @example
 * ```ts
 * const bytes = new TextEncoder().encode("bob,%");
 * keyHash(bytes, { userStart: 0, userEnd: 3, hostStart: 4, hostEnd: 5 });
 * ```
 */
export function keyHash(bytes: Uint8Array, key: KeyRanges): number {
  let h = 2166136261;
  for (let i = key.userStart; i < key.userEnd; i++) h = Math.imul(h ^ bytes[i], 16777619);
  h = Math.imul(h ^ 44, 16777619);
  for (let i = key.hostStart; i < key.hostEnd; i++) h = Math.imul(h ^ bytes[i], 16777619);
  return h | 0;
}

/** Where an account's user and host are in some bytes (UTF-8, as MariaDB names them). */
export interface KeyRanges {
  userStart: number;
  userEnd: number;
  hostStart: number;
  hostEnd: number;
}

/**
 * Accounts per chunk. Chunks are never copied or freed while the table
 * lives: growing by copying would leave the freed copies in the allocator,
 * a resident set half again as large.
 */
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
/** Bytes per arena chunk; a longer key gets a chunk of its own. */
const ARENA_CHUNK = 1 << 18;
/** Integers per account: where its bytes are (arena chunk, offset), user and host lengths, hash, server host index. */
const INTS = 6;
const ARENA = 0, OFFSET = 1, USER_LENGTH = 2, HOST_LENGTH = 3, HASH = 4, SERVER = 5;
/** Numbers per account: logins, failed attempts, first and last login, last failed attempt (NaN: none). */
const NUMBERS = 5;
const LOGINS = 0, FAILED = 1, FIRST_LOGIN = 2, LAST_LOGIN = 3, LAST_FAILED = 4;
/** The two parts of a key, in order. */
const PARTS = [USER_LENGTH, HOST_LENGTH];

/** Whether `a[aStart, aStart + length)` and `b[bStart, ...)` are the same bytes. */
function sameBytes(a: Uint8Array, aStart: number, b: Uint8Array, bStart: number, length: number) {
  for (let i = 0; i < length; i++) if (a[aStart + i] !== b[bStart + i]) return false;
  return true;
}

/**
 * Accounts and their activity, found by the bytes of their names.
 *
 * @example
 * ```ts
 * const table = new AccountTable();
 * const bob = table.indexOf("bob", "%", true);
 * table.countLogin(bob, 1000, table.serverIndex("vm"));
 * [...table][0].logins; // 1
 * ```
 */
export class AccountTable {
  /** Accounts in the table. */
  size = 0;
  /** Hash slots: an account's index + 1, or 0. */
  #slots = new Int32Array(1024);
  /** By chunk: {@link INTS} integers per account. */
  #ints: Int32Array[] = [];
  /** By chunk: {@link NUMBERS} numbers per account. */
  #numbers: Float64Array[] = [];
  #arena: Uint8Array[] = [];
  /** Bytes used in the last arena chunk. */
  #arenaUsed = ARENA_CHUNK;
  #serverHosts: string[] = [];
  #serverIndexes = new Map<string, number>();
  #encoder = new TextEncoder();
  /**
   * The arena holds valid UTF-8 only: ASCII bytes of lines, or text encoded. A
   * byte order mark is part of a name, not dropped.
   */
  #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  #scratch = new Uint8Array(1024);
  #ranges: KeyRanges = { userStart: 0, userEnd: 0, hostStart: 0, hostEnd: 0 };
  /** The accounts in key order, once asked for (until one is added). */
  #order?: Int32Array;

  /** The index of a server host, to pass to the counting methods. */
  serverIndex(serverHost: string): number {
    let i = this.#serverIndexes.get(serverHost);
    if (i === undefined) {
      i = this.#serverHosts.push(serverHost) - 1;
      this.#serverIndexes.set(serverHost, i);
    }
    return i;
  }

  /**
   * The index of the account named by `key`'s ranges of `bytes`, whose
   * {@link keyHash} is `hash`; with `add`, made if missing, else -1.
   */
  find(bytes: Uint8Array, key: KeyRanges, hash: number, add: boolean): number {
    const userLength = key.userEnd - key.userStart, hostLength = key.hostEnd - key.hostStart;
    const mask = this.#slots.length - 1;
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const at = this.#slots[slot] - 1;
      if (at === -1) return add ? this.#add(bytes, key, hash, slot) : -1;
      const ints = this.#ints[at >>> CHUNK_BITS], i = (at & (CHUNK - 1)) * INTS;
      if (
        ints[i + HASH] === hash && ints[i + USER_LENGTH] === userLength &&
        ints[i + HOST_LENGTH] === hostLength
      ) {
        const arena = this.#arena[ints[i + ARENA]], offset = ints[i + OFFSET];
        if (
          sameBytes(arena, offset, bytes, key.userStart, userLength) &&
          sameBytes(arena, offset + userLength, bytes, key.hostStart, hostLength)
        ) return at;
      }
    }
  }

  /** The index of `user@host`; with `add`, made if missing, else -1. */
  indexOf(user: string, host: string, add: boolean): number {
    // UTF-8 takes at most three bytes per UTF-16 unit.
    const need = 3 * (user.length + host.length);
    if (this.#scratch.length < need) this.#scratch = new Uint8Array(need);
    const scratch = this.#scratch, ranges = this.#ranges;
    const userBytes = this.#encoder.encodeInto(user, scratch).written;
    const hostBytes = this.#encoder.encodeInto(host, scratch.subarray(userBytes)).written;
    ranges.userStart = 0;
    ranges.userEnd = ranges.hostStart = userBytes;
    ranges.hostEnd = userBytes + hostBytes;
    return this.find(scratch, ranges, keyHash(scratch, ranges), add);
  }

  #add(bytes: Uint8Array, key: KeyRanges, hash: number, slot: number): number {
    const at = this.size++;
    this.#order = undefined;
    if ((at & (CHUNK - 1)) === 0) {
      this.#ints.push(new Int32Array(CHUNK * INTS));
      const numbers = new Float64Array(CHUNK * NUMBERS).fill(NaN);
      for (let i = 0; i < CHUNK * NUMBERS; i += NUMBERS) {
        numbers[i + LOGINS] = numbers[i + FAILED] = 0;
      }
      this.#numbers.push(numbers);
    }
    const userLength = key.userEnd - key.userStart, hostLength = key.hostEnd - key.hostStart;
    const length = userLength + hostLength;
    if (this.#arena.length === 0 || this.#arenaUsed + length > ARENA_CHUNK) {
      this.#arena.push(new Uint8Array(Math.max(ARENA_CHUNK, length)));
      this.#arenaUsed = 0;
    }
    const arena = this.#arena[this.#arena.length - 1], offset = this.#arenaUsed;
    arena.set(bytes.subarray(key.userStart, key.userEnd), offset);
    arena.set(bytes.subarray(key.hostStart, key.hostEnd), offset + userLength);
    this.#arenaUsed += length;
    const ints = this.#ints[at >>> CHUNK_BITS], i = (at & (CHUNK - 1)) * INTS;
    ints[i + ARENA] = this.#arena.length - 1;
    ints[i + OFFSET] = offset;
    ints[i + USER_LENGTH] = userLength;
    ints[i + HOST_LENGTH] = hostLength;
    ints[i + HASH] = hash;
    this.#slots[slot] = at + 1;
    // At most half the slots taken: probes stay short.
    if (2 * this.size > this.#slots.length) this.#rehash();
    return at;
  }

  #rehash(): void {
    const slots = new Int32Array(this.#slots.length * 2), mask = slots.length - 1;
    for (let at = 0; at < this.size; at++) {
      let slot = this.#ints[at >>> CHUNK_BITS][(at & (CHUNK - 1)) * INTS + HASH] & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = at + 1;
    }
    this.#slots = slots;
  }

  /**
   * Counts a login of account `at` at instant `ms`, on the server host of
   * index `server`.
   */
  countLogin(at: number, ms: number, server: number): void {
    const n = this.#numbers[at >>> CHUNK_BITS], i = (at & (CHUNK - 1)) * NUMBERS;
    n[i + LOGINS]++;
    this.#ints[at >>> CHUNK_BITS][(at & (CHUNK - 1)) * INTS + SERVER] = server;
    if (Number.isNaN(n[i + FIRST_LOGIN]) || ms < n[i + FIRST_LOGIN]) n[i + FIRST_LOGIN] = ms;
    if (Number.isNaN(n[i + LAST_LOGIN]) || ms > n[i + LAST_LOGIN]) n[i + LAST_LOGIN] = ms;
  }

  /**
   * Counts a failed attempt of account `at` at instant `ms`, on the server
   * host of index `server`.
   */
  countFailed(at: number, ms: number, server: number): void {
    const n = this.#numbers[at >>> CHUNK_BITS], i = (at & (CHUNK - 1)) * NUMBERS;
    n[i + FAILED]++;
    this.#ints[at >>> CHUNK_BITS][(at & (CHUNK - 1)) * INTS + SERVER] = server;
    if (Number.isNaN(n[i + LAST_FAILED]) || ms > n[i + LAST_FAILED]) n[i + LAST_FAILED] = ms;
  }

  /** The activity of account `at`. */
  activity(at: number): Activity {
    const ints = this.#ints[at >>> CHUNK_BITS], i = (at & (CHUNK - 1)) * INTS;
    const n = this.#numbers[at >>> CHUNK_BITS], t = (at & (CHUNK - 1)) * NUMBERS;
    const arena = this.#arena[ints[i + ARENA]], start = ints[i + OFFSET];
    const userEnd = start + ints[i + USER_LENGTH];
    const time = (v: number) => Number.isNaN(v) ? undefined : v;
    return {
      user: this.#decoder.decode(arena.subarray(start, userEnd)),
      host: this.#decoder.decode(arena.subarray(userEnd, userEnd + ints[i + HOST_LENGTH])),
      serverHost: this.#serverHosts[ints[i + SERVER]],
      logins: n[t + LOGINS],
      firstLogin: time(n[t + FIRST_LOGIN]),
      lastLogin: time(n[t + LAST_LOGIN]),
      failed: n[t + FAILED],
      lastFailed: time(n[t + LAST_FAILED]),
    };
  }

  /** The activity of `user@host`, if it has any. */
  get(user: string, host: string): Activity | undefined {
    const at = this.indexOf(user, host, false);
    return at === -1 ? undefined : this.activity(at);
  }

  /**
   * The activities, ordered by the bytes of user, then host: the order of
   * SQLite's `BINARY` collation, in which rows fill B-tree pages one after
   * another. Each is made as it is reached.
   */
  *[Symbol.iterator](): Iterator<Activity> {
    if (!this.#order) {
      this.#order = Int32Array.from({ length: this.size }, (_, i) => i);
      this.#order.sort((a, b) => this.#compare(a, b));
    }
    for (const at of this.#order) yield this.activity(at);
  }

  /** Orders accounts `a` and `b` by the bytes of user, then host. */
  #compare(a: number, b: number): number {
    const aInts = this.#ints[a >>> CHUNK_BITS], ai = (a & (CHUNK - 1)) * INTS;
    const bInts = this.#ints[b >>> CHUNK_BITS], bi = (b & (CHUNK - 1)) * INTS;
    const aArena = this.#arena[aInts[ai + ARENA]], bArena = this.#arena[bInts[bi + ARENA]];
    let aStart = aInts[ai + OFFSET], bStart = bInts[bi + OFFSET];
    for (const part of PARTS) {
      const aLength = aInts[ai + part], bLength = bInts[bi + part];
      for (let i = 0; i < aLength && i < bLength; i++) {
        const d = aArena[aStart + i] - bArena[bStart + i];
        if (d !== 0) return d;
      }
      if (aLength !== bLength) return aLength - bLength;
      aStart += aLength;
      bStart += bLength;
    }
    return 0;
  }
}
