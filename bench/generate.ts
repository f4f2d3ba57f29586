/**
 * The bench's audit data: deterministic generators of audit lines in time
 * order, each keeping its own record of what the lines mean (the oracle the
 * database is checked against).
 *
 * - {@link SparseGenerator}: 2 % `CONNECT`, 0.5 % `FAILED_CONNECT`, the rest
 *   mostly `QUERY` lines whose quoted SQL holds `,CONNECT,` and
 *   `,FAILED_CONNECT,` (the worst case for a scanner that looks for the
 *   operation). Byte for byte the bench's data before the connection-heavy set.
 * - {@link ConnectionHeavyGenerator}: about a quarter connection lines, from
 *   sessions that connect, query, change user (MariaDB 10.11's shape) and
 *   disconnect.
 * - {@link SyslogGenerator}: another generator's lines as rsyslog writes them
 *   when the plugin logs to syslog (RFC 3339 timestamps, the plugin's ident).
 *
 * @module
 */

import { prng } from "../tests/helpers.ts";

const MB = 1 << 20;

/** What the generator wrote for one `user@host`. Times are raw audit timestamps. */
export interface AccountTruth {
  logins: number;
  failed: number;
  lastLogin?: string;
  lastFailed?: string;
}

/** A source of audit lines that knows what they mean. */
export interface AuditGenerator {
  /** The next line, newline included. */
  line(): string;
  /** Called before the first line of each new file (not before an append). */
  startFile(): void;
  /** Per `user@host`, what the lines written so far count. */
  readonly truth: Map<string, AccountTruth>;
  /** The instant of the last line written, epoch milliseconds (the bench's zone is UTC). */
  readonly lastLineMs: number;
}

function account(truth: Map<string, AccountTruth>, key: string): AccountTruth {
  let t = truth.get(key);
  if (!t) truth.set(key, t = { logins: 0, failed: 0 });
  return t;
}

function recordLogin(truth: Map<string, AccountTruth>, key: string, at: string): void {
  const t = account(truth, key);
  t.logins++;
  // Fixed-width timestamps: text order is time order.
  if (t.lastLogin === undefined || at > t.lastLogin) t.lastLogin = at;
}

function recordFailed(truth: Map<string, AccountTruth>, key: string, at: string): void {
  const t = account(truth, key);
  t.failed++;
  if (t.lastFailed === undefined || at > t.lastFailed) t.lastFailed = at;
}

/**
 * Audit timestamps from 2026-11-02 00:00:00 UTC on, nine lines a second (eight
 * in the first). The bench's zone is UTC: the wall text is the UTC time.
 *
 * @example
 * ```ts
 * const clock = new AuditClock();
 * clock.next(); // "20261102 00:00:00"
 * ```
 */
export class AuditClock {
  #second = Date.UTC(2026, 10, 2, 0, 0, 0) / 1000;

  /** The instant of the last timestamp given, epoch milliseconds. */
  get lastMs(): number {
    return this.#second * 1000;
  }
  #lineInSecond = 0;
  #text = "";
  #textSecond = NaN;

  /** The timestamp of the next line. */
  next(): string {
    if (++this.#lineInSecond > 8) this.#lineInSecond = 0, this.#second++;
    if (this.#second !== this.#textSecond) {
      const d = new Date(this.#second * 1000);
      const p = (n: number) => String(n).padStart(2, "0");
      this.#text = `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())} ${
        p(d.getUTCHours())
      }:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
      this.#textSecond = this.#second;
    }
    return this.#text;
  }
}

/** `app_0` …: the users. */
function userNames(accounts: number): string[] {
  return Array.from({ length: accounts }, (_, i) => `app_${i.toString(36)}`);
}

/** 64 client addresses. */
function hostNames(): string[] {
  return Array.from({ length: 64 }, (_, i) => `10.${i % 4}.${(i * 7) % 256}.${i + 1}`);
}

/** A query's text: commas, and both operations' names inside the quotes. */
function queryText(n: number): string {
  return `'SELECT id, note FROM orders WHERE note = \\'a,CONNECT,b\\' ` +
    `AND status IN (1,2,3) AND customer = ${n} /* ,FAILED_CONNECT, */'`;
}

/**
 * The sparse data set: 2 % `CONNECT`, 0.5 % `FAILED_CONNECT`, 2 %
 * `DISCONNECT`, 5.5 % table lines, the rest `QUERY` lines; 5,000 users on one
 * to three hosts each. Query lines name random users: only the counts matter.
 *
 * @example
 * ```ts
 * const g = new SparseGenerator();
 * g.line(); // "20261102 00:00:00,db1,app_…"
 * ```
 */
export class SparseGenerator implements AuditGenerator {
  readonly truth: Map<string, AccountTruth> = new Map();
  #random = prng(42);
  #clock = new AuditClock();
  #connection = 1000;
  #query = 1;
  #users: string[];
  #hosts = hostNames();

  /** A generator over `accounts` users. */
  constructor(accounts = 5000) {
    this.#users = userNames(accounts);
  }

  /** Nothing: the sparse set ignores file boundaries. */
  startFile(): void {}

  /** The instant of the last line. */
  get lastLineMs(): number {
    return this.#clock.lastMs;
  }

  /** The next line. */
  line(): string {
    const r = this.#random();
    const ts = this.#clock.next();
    const u = Math.floor(this.#random() * this.#users.length);
    const user = this.#users[u];
    // Each user connects from one to three hosts of its own.
    const host = this.#hosts[(u + Math.floor(this.#random() * (1 + (u % 3)))) % this.#hosts.length];
    const id = this.#connection;
    const head = `${ts},db1,${user},${host},`;
    if (r < 0.02) {
      recordLogin(this.truth, `${user}@${host}`, ts);
      return `${head}${++this.#connection},0,CONNECT,shop,,0\n`;
    }
    if (r < 0.025) {
      recordFailed(this.truth, `${user}@${host}`, ts);
      return `${head}${++this.#connection},0,FAILED_CONNECT,,,1045\n`;
    }
    if (r < 0.045) return `${head}${id},0,DISCONNECT,shop,,0\n`;
    const q = ++this.#query;
    if (r < 0.1) return `${head}${id},${q},READ,shop,orders,\n`;
    return `${head}${id},${q},QUERY,shop,${queryText(Math.floor(r * 1e6))},0\n`;
  }
}

/** A connection as the connection-heavy generator keeps it. */
interface Session {
  id: number;
  user: string;
  host: string;
  /** The database chosen at connect time. */
  db: string;
  /** A successful change-user not named yet: its time, file and line number. */
  pending?: { at: string; file: number; line: number };
}

/** What the connection-heavy generator wrote, beyond the accounts. */
export interface HeavyStats {
  lines: number;
  connectionLines: number;
  changeUsers: number;
  /** Change-users whose account was named in a later file than their own. */
  resolvedInLaterFile: number;
  /** The most lines between a change-user and the line naming its account. */
  longestWait: number;
}

/** MariaDB 10.11's database field on a successful change-user. */
const CHANGE_USER_JUNK = "O".repeat(392);

/**
 * The connection-heavy data set: sessions (about 256 open at a time) that
 * connect (10 % of lines), fail to (1.5 %, each followed by its `DISCONNECT`),
 * change user (2.5 % successful, in 10.11's shape: empty user and host, 392
 * `O`s in the database field, the account named by the session's next line,
 * which can come thousands of lines later or in the next file; 0.5 % failed,
 * naming the user), disconnect (about 10 %), and otherwise send the sparse
 * set's `QUERY` and table lines. About 25 % connection lines.
 *
 * @example
 * ```ts
 * const g = new ConnectionHeavyGenerator();
 * g.line(); // "20261102 00:00:00,db1,app_…,CONNECT,…"
 * ```
 */
export class ConnectionHeavyGenerator implements AuditGenerator {
  readonly truth: Map<string, AccountTruth> = new Map();
  readonly stats: HeavyStats = {
    lines: 0,
    connectionLines: 0,
    changeUsers: 0,
    resolvedInLaterFile: 0,
    longestWait: 0,
  };
  #random: () => number;
  #clock = new AuditClock();
  #users: string[];
  #hosts = hostNames();
  #open: Session[] = [];
  /** Failed connections whose `DISCONNECT` is still to come. */
  #closing: Session[] = [];
  #nextId = 1000;
  #query = 1;
  #file = 0;
  #targetOpen: number;

  /** A generator over `accounts` users, with its own seed. */
  constructor(options: { seed?: number; accounts?: number; targetOpen?: number } = {}) {
    this.#random = prng(options.seed ?? 7);
    this.#users = userNames(options.accounts ?? 5000);
    this.#targetOpen = options.targetOpen ?? 256;
  }

  /** Counts file boundaries, for {@link HeavyStats.resolvedInLaterFile}. */
  startFile(): void {
    this.#file++;
  }

  /** The instant of the last line. */
  get lastLineMs(): number {
    return this.#clock.lastMs;
  }

  /** The next line. */
  line(): string {
    this.stats.lines++;
    const ts = this.#clock.next();
    if (this.#closing.length > 0 && this.#random() < 0.5) {
      const s = this.#closing.shift()!;
      this.stats.connectionLines++;
      return `${ts},db1,${s.user},${s.host},${s.id},0,DISCONNECT,,,0\n`;
    }
    const r = this.#random();
    const open = this.#open.length;
    if (r < 0.1 || open === 0) return this.#connect(ts);
    if (r < 0.115) return this.#failedConnect(ts);
    const index = Math.floor(this.#random() * open);
    const s = this.#open[index];
    if (r < 0.14 && !s.pending) {
      // A second change-user before any other line would make the first one's
      // account unknowable: the log could not tell, so the oracle must not.
      this.stats.connectionLines++;
      this.stats.changeUsers++;
      s.user = this.#users[Math.floor(this.#random() * this.#users.length)];
      s.pending = { at: ts, file: this.#file, line: this.stats.lines };
      return `${ts},db1,,,${s.id},0,CHANGEUSER,${CHANGE_USER_JUNK},,0\n`;
    }
    if (r >= 0.14 && r < 0.145) {
      // The session keeps its account (and a pending change-user stays pending).
      this.stats.connectionLines++;
      const tried = this.#users[Math.floor(this.#random() * this.#users.length)];
      recordFailed(this.truth, `${tried}@${s.host}`, ts);
      return `${ts},db1,${tried},${s.host},${s.id},0,CHANGEUSER,,,1045\n`;
    }
    this.#name(s);
    if (r >= 0.145 && r < 0.145 + 0.1 * open / this.#targetOpen) {
      this.stats.connectionLines++;
      this.#open[index] = this.#open[open - 1];
      this.#open.pop();
      return `${ts},db1,${s.user},${s.host},${s.id},0,DISCONNECT,${s.db},,0\n`;
    }
    const q = ++this.#query;
    const head = `${ts},db1,${s.user},${s.host},${s.id},${q},`;
    if (r < 0.3) return `${head}READ,shop,orders,\n`;
    return `${head}QUERY,shop,${queryText(Math.floor(r * 1e6))},0\n`;
  }

  /** A line of session `s` names its account: a pending change-user is a login of it. */
  #name(s: Session): void {
    if (!s.pending) return;
    recordLogin(this.truth, `${s.user}@${s.host}`, s.pending.at);
    if (s.pending.file !== this.#file) this.stats.resolvedInLaterFile++;
    this.stats.longestWait = Math.max(this.stats.longestWait, this.stats.lines - s.pending.line);
    s.pending = undefined;
  }

  #client(): { user: string; host: string } {
    const u = Math.floor(this.#random() * this.#users.length);
    const k = Math.floor(this.#random() * (1 + (u % 3)));
    return { user: this.#users[u], host: this.#hosts[(u + k) % this.#hosts.length] };
  }

  #connect(ts: string): string {
    this.stats.connectionLines++;
    const { user, host } = this.#client();
    const s: Session = { id: this.#nextId++, user, host, db: this.#random() < 0.5 ? "shop" : "" };
    this.#open.push(s);
    recordLogin(this.truth, `${user}@${host}`, ts);
    return `${ts},db1,${user},${host},${s.id},0,CONNECT,${s.db},,0\n`;
  }

  #failedConnect(ts: string): string {
    this.stats.connectionLines++;
    const client = this.#client();
    // One in ten tries a user that does not exist.
    const user = this.#random() < 0.1 ? `nobody_${this.#nextId % 50}` : client.user;
    const s: Session = { id: this.#nextId++, user, host: client.host, db: "" };
    this.#closing.push(s);
    recordFailed(this.truth, `${user}@${s.host}`, ts);
    return `${ts},db1,${user},${s.host},${s.id},0,FAILED_CONNECT,,,1045\n`;
  }
}

/**
 * Another generator's lines as rsyslog writes them on Debian 12 when the
 * plugin logs to syslog (`server_audit_output_type=syslog`): an RFC 3339
 * timestamp (the same instant: the bench's zone is UTC), the host, the
 * plugin's ident and its message, the audit fields from the server host on.
 *
 * @example
 * ```ts
 * const g = new SyslogGenerator(new SparseGenerator());
 * g.line(); // "2026-11-02T00:00:00.000000+00:00 vm mysql-server_auditing:  db1,app_…"
 * ```
 */
export class SyslogGenerator implements AuditGenerator {
  #inner: AuditGenerator;

  /** Wraps `inner`'s lines. */
  constructor(inner: AuditGenerator) {
    this.#inner = inner;
  }

  /** The inner generator's record: the lines mean the same. */
  get truth(): Map<string, AccountTruth> {
    return this.#inner.truth;
  }

  /** The instant of the last line. */
  get lastLineMs(): number {
    return this.#inner.lastLineMs;
  }

  /** Passed on. */
  startFile(): void {
    this.#inner.startFile();
  }

  /** The next line, as syslog. */
  line(): string {
    const line = this.#inner.line();
    // "20261102 00:00:00,db1,..." -> "2026-11-02T00:00:00.000000+00:00 vm ...:  db1,..."
    const t = line.slice(0, 17);
    return `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9)}.000000+00:00 vm ` +
      `mysql-server_auditing:  ${line.slice(18)}`;
  }
}

/**
 * Writes about `bytes` of `generator`'s lines to `path` (whole lines, in
 * pieces of up to 1 MB), a new file or, with `append`, at its end; the file
 * is then modified a second after its last line, as a server's file is (the
 * zone check finds `TimeLocation` fitting, as on a server, and looks no
 * further).
 *
 * @example
 * ```ts
 * await writeAuditFile(new SparseGenerator(), "/tmp/x/server_audit.log", 1 << 20);
 * ```
 */
export async function writeAuditFile(
  generator: AuditGenerator,
  path: string,
  bytes: number,
  append = false,
): Promise<void> {
  if (!append) generator.startFile();
  const file = await Deno.open(path, { write: true, create: true, append, truncate: !append });
  const encoder = new TextEncoder();
  const piece = Math.min(MB, bytes);
  let written = 0;
  try {
    while (written < bytes) {
      let chunk = "";
      while (chunk.length < piece) chunk += generator.line();
      const data = encoder.encode(chunk);
      for (let at = 0; at < data.length;) at += await file.write(data.subarray(at));
      written += data.length;
    }
  } finally {
    file.close();
  }
  const modified = new Date(generator.lastLineMs + 1000);
  await Deno.utime(path, modified, modified);
}
