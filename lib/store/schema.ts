/**
 * The schema: the old tool's `Accounts` table with its watermark row, and
 * beside it each account's true activity, the per-file checkpoints, pending
 * change-users, data losses, run metrics and since when each server host is
 * watched; migrations, and the one write
 * transaction a run holds from its first read to its commit.
 *
 * @module
 */

import { guard, type Store, StoreError } from "./database.ts";

/** The account whose `Accounts` row holds the watermark, as in the old tool. */
export const WATERMARK_ACCOUNT = { user: "mysql", host: "localhost" } as const;

/**
 * The audit files a run before schema 4 found, as far as the database tells:
 * 0 for the runs of a "no audit log" notice still holding (they read
 * nothing, listed no audit file and failed on none), else not known (NULL).
 * (The notice's kind as runs wrote it then; a later rename must not change it.)
 */
export const AUDIT_FILES_BEFORE_4 = `CASE WHEN files_read = 0 AND errors = 0
  AND started_ms >= (SELECT first_ms FROM notices WHERE kind = 'no audit log') THEN 0 END`;

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
  // 2: a checkpoint's size on disk (to skip an unchanged file after one stat) and whether the
  // file may still have been written after it was read; notices repeated while they hold.
  `ALTER TABLE checkpoints ADD COLUMN file_size INTEGER;
   ALTER TABLE checkpoints ADD COLUMN state TEXT NOT NULL DEFAULT 'closed';
   UPDATE checkpoints SET state = 'open' WHERE size > offset;
   CREATE TABLE notices (
     kind TEXT PRIMARY KEY, first_ms INTEGER NOT NULL, said_ms INTEGER NOT NULL);`,
  // 3: since when each server host has been watched: the earliest event instant read (a
  // database of schema 1 starts from its activity; the old tool's Accounts rows are no window).
  `CREATE TABLE watch (
     server_host TEXT PRIMARY KEY, first_event_ms INTEGER NOT NULL,
     first_run_ms INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO watch (server_host, first_event_ms, first_run_ms)
     SELECT server_host, MIN(coalesce(min(first_login_ms, last_failed_ms), first_login_ms,
       last_failed_ms)), (SELECT coalesce(MIN(started_ms), 0) FROM runs)
     FROM activity WHERE server_host IS NOT NULL GROUP BY server_host
     HAVING MIN(coalesce(first_login_ms, last_failed_ms)) IS NOT NULL;`,
  // 4: per run, the audit files found (0: none, so nothing was read) and the sign-ins no account
  // could be given, for the report. Older runs did not record them (NULL), except that the runs
  // of a "no audit log" notice still holding found no audit file.
  `ALTER TABLE runs ADD COLUMN audit_files INTEGER;
   ALTER TABLE runs ADD COLUMN change_users_dropped INTEGER;
   ALTER TABLE runs ADD COLUMN bad_timestamps INTEGER;
   UPDATE runs SET audit_files = ${AUDIT_FILES_BEFORE_4};`,
  // 5: what a push to a central store sends: a change sequence on the rows it sends, and this
  // database's incarnation (a new one for a new database) with what the central acknowledged.
  `ALTER TABLE activity ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE proxy_logins ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE losses ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 1;
   CREATE INDEX activity_by_change ON activity (change_seq);
   CREATE INDEX proxy_logins_by_change ON proxy_logins (change_seq);
   CREATE TABLE push_state (
     id INTEGER PRIMARY KEY CHECK (id = 1), incarnation TEXT NOT NULL,
     change_seq INTEGER NOT NULL, acked_seq INTEGER, acked_ms INTEGER);
   INSERT INTO push_state (id, incarnation, change_seq)
     VALUES (1, lower(hex(randomblob(16))), 1);`,
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Starts a run's write transaction (waiting for another run up to the busy
 * timeout) and brings the schema up to date inside it. The old tool's
 * database (only `Accounts`) is upgraded in place.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * import { openStore } from "./database.ts";
 * const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
 * const store = openStore(":memory:", { lockTimeoutMs: 0, times });
 * beginRun(store);
 * ```
 * @throws {LockedError} when another run holds the database too long.
 */
export function beginRun(store: Store): void {
  const { db, path } = store;
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
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * import { openStore } from "./database.ts";
 * const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
 * const store = openStore(":memory:", { lockTimeoutMs: 0, times });
 * beginRun(store);
 * commitRun(store);
 * ```
 */
export function commitRun(store: Store): void {
  guard(store.path, () => store.db.exec("COMMIT"));
}

/**
 * Rolls the run back, if a transaction is open; the database stays as it was.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * import { openStore } from "./database.ts";
 * const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
 * const store = openStore(":memory:", { lockTimeoutMs: 0, times });
 * rollbackRun(store);
 * ```
 */
export function rollbackRun(store: Store): void {
  try {
    if (store.db.isTransaction) store.db.exec("ROLLBACK");
  } catch {
    // Nothing was written that a rollback could keep.
  }
}
