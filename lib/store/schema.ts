/**
 * The SQLite store (`node:sqlite`): the old tool's `Accounts` table with its
 * watermark row, and beside it each account's true activity, the per-file
 * checkpoints, pending change-users, data losses and run statistics. A run
 * holds one write transaction from its first read to its commit.
 *
 * @module
 */

import { statfsSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Activity, PendingChangeUser, ProxyActivity } from "../track/aggregate.ts";
import type { Layout } from "../time/layout.ts";
import { formatInstant, parseInstant, type Zone } from "../time/zone.ts";

/** The account whose `Accounts` row holds the watermark, as in the old tool. */
export const WATERMARK_ACCOUNT = { name: "mysql", host: "localhost" } as const;

/** The database cannot be opened, read or written. */
export class StoreError extends Error {
  /** The database file. */
  path: string;
  /** Creates the error. */
  constructor(path: string, message: string) {
    super(message);
    this.name = "StoreError";
    this.path = path;
  }
}

/** Another run holds the database longer than the lock timeout. */
export class LockedError extends StoreError {
  /** Creates the error. */
  constructor(path: string, message: string) {
    super(path, message);
    this.name = "LockedError";
  }
}

/** How far one audit file has been read. */
export interface Checkpoint {
  /** SHA-256 of the file's first line: its identity across renames and compression. */
  fingerprint: string;
  /** Where it was last seen. */
  path: string;
  dev: number;
  ino: number;
  gzip: boolean;
  /** Its size when last seen (plain files). */
  size: number;
  /** Bytes consumed: the end of the last complete line read. */
  offset: number;
  mtimeMs: number;
  /** The instant of the last timestamp read from it. */
  lastInstant?: number;
  /** When a run last saw it, epoch milliseconds. */
  seenMs: number;
}

/** Bytes of a file that rotation removed before they were read. */
export interface Loss {
  path: string;
  fingerprint: string;
  unreadBytes: number;
  /** The unread bytes were written between these instants (epoch milliseconds). */
  from?: number;
  to: number;
}

/** Counters of one run. */
export interface RunStats {
  startedMs: number;
  filesRead: number;
  bytesRead: number;
  logins: number;
  failed: number;
  malformed: number;
  longLines: number;
  emptyUser: number;
  errors: number;
}

/** Everything one run writes. */
export interface RunOutcome {
  accounts: Activity[];
  proxies: ProxyActivity[];
  /** All change-users still pending: they replace the stored ones. */
  pending: PendingChangeUser[];
  checkpoints: Checkpoint[];
  losses: Loss[];
  /** The new watermark (epoch milliseconds, whole seconds), if it moved. */
  watermarkMs?: number;
  stats: RunStats;
}

/** What a run starts from. */
export interface StoredState {
  watermarkMs?: number;
  checkpoints: Checkpoint[];
  pending: PendingChangeUser[];
}

/** Schema migrations; `PRAGMA user_version` is how many have run. */
const MIGRATIONS = [
  // 1: the old tool's Accounts table (kept as it is when present), and ours beside it.
  `CREATE TABLE IF NOT EXISTS Accounts (
     name TEXT, host TEXT, last_seen TIMESTAMP, PRIMARY KEY (name, host));
   CREATE TABLE activity (
     name TEXT NOT NULL, host TEXT NOT NULL, server_host TEXT,
     logins INTEGER NOT NULL DEFAULT 0, first_login_ms INTEGER, last_login_ms INTEGER,
     failed_attempts INTEGER NOT NULL DEFAULT 0, last_failed_ms INTEGER,
     PRIMARY KEY (name, host)) WITHOUT ROWID;
   CREATE TABLE proxy_logins (
     name TEXT NOT NULL, host TEXT NOT NULL, proxied_user TEXT NOT NULL,
     proxied_host TEXT NOT NULL, logins INTEGER NOT NULL, last_login_ms INTEGER NOT NULL,
     PRIMARY KEY (name, host, proxied_user, proxied_host)) WITHOUT ROWID;
   CREATE TABLE checkpoints (
     fingerprint TEXT PRIMARY KEY, path TEXT NOT NULL, dev INTEGER, ino INTEGER,
     gzip INTEGER NOT NULL, size INTEGER NOT NULL, offset INTEGER NOT NULL,
     mtime_ms INTEGER NOT NULL, last_instant_ms INTEGER, seen_ms INTEGER NOT NULL);
   CREATE TABLE pending_change_user (
     server_host TEXT NOT NULL, connection_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
     PRIMARY KEY (server_host, connection_id));
   CREATE TABLE losses (
     detected_ms INTEGER NOT NULL, path TEXT NOT NULL, fingerprint TEXT NOT NULL,
     unread_bytes INTEGER NOT NULL, from_ms INTEGER, to_ms INTEGER);
   CREATE TABLE runs (
     started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL, files_read INTEGER NOT NULL,
     bytes_read INTEGER NOT NULL, logins INTEGER NOT NULL, failed_attempts INTEGER NOT NULL,
     malformed INTEGER NOT NULL, long_lines INTEGER NOT NULL, empty_user INTEGER NOT NULL,
     losses INTEGER NOT NULL, errors INTEGER NOT NULL);`,
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Whether the file system holding `path` has (next to) no space left. */
function diskIsFull(path: string): boolean {
  try {
    const fs = statfsSync(dirname(path));
    return fs.bavail * fs.bsize < 1 << 20;
  } catch {
    return false;
  }
}

function storeError(path: string, e: unknown): StoreError {
  const message = (e as Error).message ?? String(e);
  if (/database is locked|database is busy/i.test(message)) {
    return new LockedError(path, "Database is locked by another run");
  }
  if (/not a database|malformed/i.test(message)) {
    return new StoreError(path, "Database file is not a valid SQLite database");
  }
  if (/readonly|read-only/i.test(message)) {
    return new StoreError(path, "Database is read-only");
  }
  if (/disk is full/i.test(message) || (/disk I\/O/i.test(message) && diskIsFull(path))) {
    return new StoreError(path, "Database disk is full");
  }
  if (/disk I\/O/i.test(message)) return new StoreError(path, `Database ${message}`);
  if (/unable to open/i.test(message)) return new StoreError(path, "Database cannot be opened");
  return new StoreError(path, `Database error: ${message}`);
}

/**
 * Runs `fn`, turning SQLite's errors into {@link StoreError}s naming the file.
 *
 * @example
 * ```ts
 * const db = openStore(":memory:", 0);
 * guard(":memory:", () => db.exec("SELECT 1"));
 * ```
 */
export function guard<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw storeError(path, e);
  }
}

/**
 * Opens (creating if needed) the database for writing, in WAL mode, waiting up
 * to `lockTimeoutMs` for other writers.
 *
 * @example
 * ```ts
 * const db = openStore("/tmp/audit.sqlite", 60_000);
 * ```
 * @throws {StoreError} when it cannot be opened.
 */
export function openStore(path: string, lockTimeoutMs: number): DatabaseSync {
  return guard(path, () => {
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA busy_timeout = ${Math.floor(lockTimeoutMs)}`);
    db.exec("PRAGMA journal_mode = WAL");
    return db;
  });
}

/**
 * Starts a run's write transaction (waiting for another run up to the busy
 * timeout) and brings the schema up to date inside it. The old tool's
 * database (only `Accounts`) is upgraded in place.
 *
 * @example
 * ```ts
 * const db = openStore(":memory:", 0);
 * beginRun(db, ":memory:");
 * ```
 * @throws {LockedError} when another run holds the database too long.
 */
export function beginRun(db: DatabaseSync, path: string): void {
  guard(path, () => {
    db.exec("BEGIN IMMEDIATE");
    const version = Number(
      (db.prepare("PRAGMA user_version").get() as { user_version: number })
        .user_version,
    );
    if (version > SCHEMA_VERSION) {
      throw new StoreError(path, `Database schema ${version} is newer than this conntracker's`);
    }
    for (let v = version; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  });
}

/**
 * Commits the run's transaction.
 *
 * @example
 * ```ts
 * const db = openStore(":memory:", 0);
 * beginRun(db, ":memory:");
 * commitRun(db, ":memory:");
 * ```
 */
export function commitRun(db: DatabaseSync, path: string): void {
  guard(path, () => db.exec("COMMIT"));
}

/**
 * Rolls the run back, if a transaction is open; the database stays as it was.
 *
 * @example
 * ```ts
 * rollbackRun(openStore(":memory:", 0));
 * ```
 */
export function rollbackRun(db: DatabaseSync): void {
  try {
    if (db.isTransaction) db.exec("ROLLBACK");
  } catch {
    // Nothing was written that a rollback could keep.
  }
}

/**
 * Parses a stored time: the `TimeFormatDB` layout, else ISO 8601 as Go's
 * SQLite driver writes `time.Time`.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * parseStoredTime("2024-10-14 13:22:57+02:00", compileLayout("2006-01-02 15:04:05-07:00"),
 *   loadZone("UTC")); // 1728904977000
 * ```
 */
export function parseStoredTime(text: string, layout: Layout, zone: Zone): number | undefined {
  const parsed = parseInstant(layout, zone, text);
  if (parsed !== undefined) return parsed;
  const iso = Date.parse(text.trim().replace(" ", "T").replace(/ ([+-]\d\d:?\d\d)$/, "$1"));
  return Number.isNaN(iso) ? undefined : iso;
}

/**
 * Reads what a run starts from: the watermark, the checkpoints and the
 * pending change-users.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * const db = openStore(":memory:", 0);
 * beginRun(db, ":memory:");
 * readState(db, ":memory:", compileLayout("2006-01-02 15:04:05-07:00"), loadZone("UTC"));
 * ```
 */
export function readState(db: DatabaseSync, path: string, layout: Layout, zone: Zone): StoredState {
  return guard(path, () => {
    const row = db.prepare("SELECT last_seen FROM Accounts WHERE name = ? AND host = ?")
      .get(WATERMARK_ACCOUNT.name, WATERMARK_ACCOUNT.host) as { last_seen: unknown } | undefined;
    const watermarkMs = row?.last_seen == null
      ? undefined
      : parseStoredTime(String(row.last_seen), layout, zone);
    const checkpoints = (db.prepare("SELECT * FROM checkpoints").all() as Record<string, unknown>[])
      .map((r): Checkpoint => ({
        fingerprint: String(r.fingerprint),
        path: String(r.path),
        dev: Number(r.dev),
        ino: Number(r.ino),
        gzip: Boolean(r.gzip),
        size: Number(r.size),
        offset: Number(r.offset),
        mtimeMs: Number(r.mtime_ms),
        lastInstant: r.last_instant_ms == null ? undefined : Number(r.last_instant_ms),
        seenMs: Number(r.seen_ms),
      }));
    const pending = (db.prepare("SELECT * FROM pending_change_user").all() as Record<
      string,
      unknown
    >[]).map((r) => ({
      serverHost: String(r.server_host),
      connectionId: String(r.connection_id),
      at: Number(r.at_ms),
    }));
    return { watermarkMs, checkpoints, pending };
  });
}

/** Checkpoints of files not seen for this long are forgotten. */
export const CHECKPOINT_RETENTION_MS = 90 * 86_400_000;

/**
 * Writes a run's outcome inside its transaction: `Accounts.last_seen` keeps
 * the later instant (compared as instants, not as text), activity counts add
 * up, and the watermark row moves forward only.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * const db = openStore(":memory:", 0);
 * beginRun(db, ":memory:");
 * writeRun(db, ":memory:", {
 *   accounts: [{ user: "bob", host: "%", serverHost: "vm", logins: 1, lastLogin: 0, failed: 0 }],
 *   proxies: [], pending: [], checkpoints: [], losses: [],
 *   stats: { startedMs: 0, filesRead: 0, bytesRead: 0, logins: 1, failed: 0, malformed: 0,
 *     longLines: 0, emptyUser: 0, errors: 0 },
 * }, compileLayout("2006-01-02 15:04:05-07:00"), loadZone("UTC"));
 * commitRun(db, ":memory:");
 * ```
 */
export function writeRun(
  db: DatabaseSync,
  path: string,
  outcome: RunOutcome,
  layout: Layout,
  zone: Zone,
): void {
  guard(path, () => {
    const selectSeen = db.prepare("SELECT last_seen FROM Accounts WHERE name = ? AND host = ?");
    const updateSeen = db.prepare("UPDATE Accounts SET last_seen = ? WHERE name = ? AND host = ?");
    const insertSeen = db.prepare("INSERT INTO Accounts (name, host, last_seen) VALUES (?, ?, ?)");
    const setSeen = (name: string, host: string, at: number, onlyLater: boolean) => {
      const row = selectSeen.get(name, host) as { last_seen: unknown } | undefined;
      const text = formatInstant(layout, zone, at);
      if (!row) return void insertSeen.run(name, host, text);
      const stored = row.last_seen == null
        ? undefined
        : parseStoredTime(String(row.last_seen), layout, zone);
      if (!onlyLater || stored === undefined || at > stored) updateSeen.run(text, name, host);
    };
    const upsertActivity = db.prepare(
      `INSERT INTO activity (name, host, server_host, logins, first_login_ms, last_login_ms,
         failed_attempts, last_failed_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (name, host) DO UPDATE SET
         server_host = excluded.server_host,
         logins = logins + excluded.logins,
         first_login_ms = coalesce(min(first_login_ms, excluded.first_login_ms),
           first_login_ms, excluded.first_login_ms),
         last_login_ms = coalesce(max(last_login_ms, excluded.last_login_ms),
           last_login_ms, excluded.last_login_ms),
         failed_attempts = failed_attempts + excluded.failed_attempts,
         last_failed_ms = coalesce(max(last_failed_ms, excluded.last_failed_ms),
           last_failed_ms, excluded.last_failed_ms)`,
    );
    for (const a of outcome.accounts) {
      upsertActivity.run(
        a.user,
        a.host,
        a.serverHost,
        a.logins,
        a.firstLogin ?? null,
        a.lastLogin ?? null,
        a.failed,
        a.lastFailed ?? null,
      );
      const isWatermark = a.user === WATERMARK_ACCOUNT.name && a.host === WATERMARK_ACCOUNT.host;
      if (a.lastLogin !== undefined && !isWatermark) setSeen(a.user, a.host, a.lastLogin, true);
    }
    const upsertProxy = db.prepare(
      `INSERT INTO proxy_logins (name, host, proxied_user, proxied_host, logins, last_login_ms)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET logins = logins + excluded.logins,
       last_login_ms = max(last_login_ms, excluded.last_login_ms)`,
    );
    for (const p of outcome.proxies) {
      upsertProxy.run(p.user, p.host, p.proxiedUser, p.proxiedHost, p.logins, p.lastLogin);
    }
    db.exec("DELETE FROM pending_change_user");
    const insertPending = db.prepare(
      "INSERT INTO pending_change_user (server_host, connection_id, at_ms) VALUES (?, ?, ?)",
    );
    for (const p of outcome.pending) insertPending.run(p.serverHost, p.connectionId, p.at);
    const upsertCheckpoint = db.prepare(
      `INSERT OR REPLACE INTO checkpoints (fingerprint, path, dev, ino, gzip, size, offset,
         mtime_ms, last_instant_ms, seen_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const c of outcome.checkpoints) {
      upsertCheckpoint.run(
        c.fingerprint,
        c.path,
        c.dev,
        c.ino,
        c.gzip ? 1 : 0,
        c.size,
        c.offset,
        Math.floor(c.mtimeMs),
        c.lastInstant ?? null,
        c.seenMs,
      );
    }
    const finished = Date.now();
    db.prepare("DELETE FROM checkpoints WHERE seen_ms < ?").run(finished - CHECKPOINT_RETENTION_MS);
    const insertLoss = db.prepare(
      `INSERT INTO losses (detected_ms, path, fingerprint, unread_bytes, from_ms, to_ms)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    for (const l of outcome.losses) {
      insertLoss.run(finished, l.path, l.fingerprint, l.unreadBytes, l.from ?? null, l.to);
    }
    if (outcome.watermarkMs !== undefined) {
      const { name, host } = WATERMARK_ACCOUNT;
      setSeen(name, host, outcome.watermarkMs, false);
    }
    const s = outcome.stats;
    db.prepare(
      `INSERT INTO runs (started_ms, finished_ms, files_read, bytes_read, logins, failed_attempts,
         malformed, long_lines, empty_user, losses, errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      s.startedMs,
      finished,
      s.filesRead,
      s.bytesRead,
      s.logins,
      s.failed,
      s.malformed,
      s.longLines,
      s.emptyUser,
      outcome.losses.length,
      s.errors,
    );
  });
}

/**
 * Opens the database for reading only (a report never writes it).
 *
 * @example
 * ```ts
 * const db = openStoreReadOnly("/var/lib/mysql/audit.sqlite");
 * ```
 * @throws {StoreError} when it does not exist or cannot be opened.
 */
export function openStoreReadOnly(path: string): DatabaseSync {
  try {
    if (!Deno.statSync(path).isFile) throw new StoreError(path, "Database is not a file");
  } catch (e) {
    if (e instanceof StoreError) throw e;
    if (e instanceof Deno.errors.NotFound) {
      throw new StoreError(path, "Database not found: run conntracker first");
    }
    throw new StoreError(path, `Database cannot be opened: ${(e as Error).message}`);
  }
  return guard(path, () => {
    const db = new DatabaseSync(path, { readOnly: true });
    db.exec("PRAGMA busy_timeout = 10000");
    return db;
  });
}

/** What the database knows of one logged `user@host`. */
export interface Observation {
  user: string;
  host: string;
  logins: number;
  lastLogin?: number;
  failed: number;
  lastFailed?: number;
}

/** Everything a report needs from the database. */
export interface Observations {
  accounts: Observation[];
  proxies: ProxyActivity[];
}

/**
 * Reads every logged `user@host`: the activity table, and the `Accounts` rows
 * of logins read by the old tool (their counts are unknown). The watermark
 * row of `Accounts` is not an account's activity.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * const db = openStore(":memory:", 0);
 * beginRun(db, ":memory:");
 * readObservations(db, ":memory:", compileLayout("2006-01-02 15:04:05-07:00"), loadZone("UTC"));
 * ```
 */
export function readObservations(
  db: DatabaseSync,
  path: string,
  layout: Layout,
  zone: Zone,
): Observations {
  return guard(path, () => {
    const tables = new Set(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
        name: string;
      }[]).map((r) => r.name),
    );
    if (!tables.has("Accounts")) {
      throw new StoreError(path, "Database has no Accounts table: not a conntracker database");
    }
    const byKey = new Map<string, Observation>();
    const rows = tables.has("activity")
      ? db.prepare("SELECT * FROM activity").all() as Record<string, unknown>[]
      : [];
    for (const r of rows) {
      const o: Observation = {
        user: String(r.name),
        host: String(r.host),
        logins: Number(r.logins),
        failed: Number(r.failed_attempts),
      };
      if (r.last_login_ms != null) o.lastLogin = Number(r.last_login_ms);
      if (r.last_failed_ms != null) o.lastFailed = Number(r.last_failed_ms);
      byKey.set(`${o.user}\0${o.host}`, o);
    }
    const old = db.prepare("SELECT name, host, last_seen FROM Accounts").all() as Record<
      string,
      unknown
    >[];
    for (const r of old) {
      const user = String(r.name), host = String(r.host);
      if (user === WATERMARK_ACCOUNT.name && host === WATERMARK_ACCOUNT.host) continue;
      const at = r.last_seen == null
        ? undefined
        : parseStoredTime(String(r.last_seen), layout, zone);
      const key = `${user}\0${host}`;
      const o = byKey.get(key) ?? { user, host, logins: 0, failed: 0 };
      if (at !== undefined && (o.lastLogin === undefined || at > o.lastLogin)) o.lastLogin = at;
      byKey.set(key, o);
    }
    const proxies = tables.has("proxy_logins")
      ? (db.prepare("SELECT * FROM proxy_logins").all() as Record<string, unknown>[]).map((r) => ({
        user: String(r.name),
        host: String(r.host),
        proxiedUser: String(r.proxied_user),
        proxiedHost: String(r.proxied_host),
        logins: Number(r.logins),
        lastLogin: Number(r.last_login_ms),
      }))
      : [];
    return { accounts: [...byKey.values()], proxies };
  });
}
