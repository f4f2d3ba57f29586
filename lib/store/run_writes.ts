/**
 * The run's side of the store: what a run starts from (watermark,
 * checkpoints, pending change-users) and everything it writes, inside the
 * run's transaction, one table at a time.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import type { Activity } from "../track/account_table.ts";
import type { PendingChangeUser, ProxyActivity } from "../track/aggregate.ts";
import type { Checkpoint, CheckpointState } from "../track/checkpoints.ts";
import type { Loss } from "../track/losses.ts";
import type { RunMetrics } from "../track/metrics.ts";
import { nextChangeSeq } from "./changes.ts";
import type { Notice } from "../track/notices.ts";
import { guard, type Store } from "./database.ts";
import { WATERMARK_ACCOUNT } from "./schema.ts";
import { formatStoredTime, parseStoredTime, type StoredTimes } from "./stored_time.ts";

/** Everything one run writes. */
export interface RunOutcome {
  /** In key order (name, then host): rows written so fill B-tree pages one after another. */
  accounts: { readonly size: number } & Iterable<Activity>;
  proxies: ProxyActivity[];
  /** All change-users still pending: they replace the stored ones. */
  pending: PendingChangeUser[];
  checkpoints: Checkpoint[];
  losses: Loss[];
  /** The new watermark (epoch milliseconds, whole seconds), if it moved. */
  watermarkMs?: number;
  /** The journal read (`AuditSource = journal`) and the cursor of its last entry read. */
  journalCursor?: { source: string; cursor: string };
  /** The run's figures; `finishedMs` is also when losses were detected and what retention counts from. */
  metrics: RunMetrics;
  /** The notices that still hold: they replace the stored ones. */
  notices: Notice[];
}

/** What a run starts from. */
export interface StoredState {
  watermarkMs?: number;
  /** When the last run started; `undefined` before the first (an old tool's database). */
  lastRunMs?: number;
  checkpoints: Checkpoint[];
  pending: PendingChangeUser[];
  notices: Notice[];
  /** By journal read: the cursor of the last entry read. */
  journalCursors: Map<string, string>;
}

/**
 * Reads what a run starts from: the watermark, the checkpoints, the
 * pending change-users and the journal cursors.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * import { openStore } from "./database.ts";
 * import { beginRun } from "./schema.ts";
 * const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
 * const store = openStore(":memory:", { lockTimeoutMs: 0, times });
 * beginRun(store);
 * readState(store);
 * ```
 */
export function readState(store: Store): StoredState {
  const { db, path, times } = store;
  return guard(path, () => {
    const row = db.prepare("SELECT last_seen FROM Accounts WHERE name = ? AND host = ?")
      .get(WATERMARK_ACCOUNT.user, WATERMARK_ACCOUNT.host) as { last_seen: unknown } | undefined;
    const watermarkMs = row?.last_seen == null
      ? undefined
      : parseStoredTime(times, String(row.last_seen));
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
        fileSize: r.file_size == null ? undefined : Number(r.file_size),
        lastInstant: r.last_instant_ms == null ? undefined : Number(r.last_instant_ms),
        seenMs: Number(r.seen_ms),
        state: String(r.state) as CheckpointState,
      }));
    const pending = (db.prepare("SELECT * FROM pending_change_user").all() as Record<
      string,
      unknown
    >[]).map((r) => ({
      serverHost: String(r.server_host),
      connectionId: String(r.connection_id),
      at: Number(r.at_ms),
    }));
    const last = db.prepare("SELECT max(started_ms) AS at FROM runs").get() as { at: unknown };
    const notices = (db.prepare("SELECT * FROM notices").all() as Record<string, unknown>[])
      .map((r) => ({
        kind: String(r.kind),
        firstMs: Number(r.first_ms),
        saidMs: Number(r.said_ms),
      }));
    const lastRunMs = last.at == null ? undefined : Number(last.at);
    const cursors = db.prepare("SELECT source, cursor FROM journal_cursors").all() as {
      source: string;
      cursor: string;
    }[];
    const journalCursors = new Map(cursors.map((r) => [String(r.source), String(r.cursor)]));
    return { watermarkMs, lastRunMs, checkpoints, pending, notices, journalCursors };
  });
}

/** Checkpoints of files not seen for this long are forgotten. */
export const CHECKPOINT_RETENTION_MS = 90 * 86_400_000;

/** Sets `Accounts.last_seen` of `user@host`; with `onlyLater`, only to a later instant. */
type SetLastSeen = (user: string, host: string, at: number, onlyLater: boolean) => void;

/**
 * Prepares {@link SetLastSeen}, which compares instants, not text. It is
 * called at most once per account.
 */
function lastSeenWriter(db: DatabaseSync, times: StoredTimes): SetLastSeen {
  const select = db.prepare("SELECT last_seen FROM Accounts WHERE name = ? AND host = ?");
  const update = db.prepare("UPDATE Accounts SET last_seen = ? WHERE name = ? AND host = ?");
  const insert = db.prepare("INSERT INTO Accounts (name, host, last_seen) VALUES (?, ?, ?)");
  // A first run into a new database (a backlog: its largest run) has no row to look up; it
  // writes each account once.
  const empty = db.prepare("SELECT 1 FROM Accounts LIMIT 1").get() === undefined;
  return (user, host, at, onlyLater) => {
    const row = empty ? undefined : select.get(user, host) as { last_seen: unknown } | undefined;
    const text = formatStoredTime(times, at);
    if (!row) return void insert.run(user, host, text);
    const stored = row.last_seen == null
      ? undefined
      : parseStoredTime(times, String(row.last_seen));
    if (!onlyLater || stored === undefined || at > stored) update.run(text, user, host);
  };
}

function isWatermark(user: string, host: string): boolean {
  return user === WATERMARK_ACCOUNT.user && host === WATERMARK_ACCOUNT.host;
}

/**
 * Adds up activity counts, and moves `Accounts.last_seen` to later logins;
 * rows take `seq`. Notes each server host's earliest event in `earliest`.
 */
function writeActivity(
  db: DatabaseSync,
  setLastSeen: SetLastSeen,
  accounts: Iterable<Activity>,
  seq: number,
  earliest: Map<string, number>,
): void {
  const upsert = db.prepare(
    `INSERT INTO activity (name, host, server_host, logins, first_login_ms, last_login_ms,
       failed_attempts, last_failed_ms, change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (name, host) DO UPDATE SET change_seq = excluded.change_seq,
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
  for (const a of accounts) {
    upsert.run(
      a.user,
      a.host,
      a.serverHost,
      a.logins,
      a.firstLogin ?? null,
      a.lastLogin ?? null,
      a.failed,
      a.lastFailed ?? null,
      seq,
    );
    if (a.lastLogin !== undefined && !isWatermark(a.user, a.host)) {
      setLastSeen(a.user, a.host, a.lastLogin, true);
    }
    noteEarliest(earliest, a.serverHost, a.firstLogin);
    noteEarliest(earliest, a.serverHost, a.lastFailed);
  }
}

function writeProxies(db: DatabaseSync, proxies: ProxyActivity[], seq: number): void {
  const upsert = db.prepare(
    `INSERT INTO proxy_logins (name, host, proxied_user, proxied_host, logins, last_login_ms,
     change_seq) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET
     change_seq = excluded.change_seq, logins = logins + excluded.logins,
     last_login_ms = max(last_login_ms, excluded.last_login_ms)`,
  );
  for (const p of proxies) {
    upsert.run(p.user, p.host, p.proxiedUser, p.proxiedHost, p.logins, p.lastLogin, seq);
  }
}

function replacePending(db: DatabaseSync, pending: PendingChangeUser[]): void {
  db.exec("DELETE FROM pending_change_user");
  const insert = db.prepare(
    "INSERT INTO pending_change_user (server_host, connection_id, at_ms) VALUES (?, ?, ?)",
  );
  for (const p of pending) insert.run(p.serverHost, p.connectionId, p.at);
}

/** Writes the checkpoints of this run and forgets those not seen within the retention. */
function writeCheckpoints(db: DatabaseSync, checkpoints: Checkpoint[], nowMs: number): void {
  const upsert = db.prepare(
    `INSERT OR REPLACE INTO checkpoints (fingerprint, path, dev, ino, gzip, size, offset,
       mtime_ms, last_instant_ms, seen_ms, file_size, state)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const c of checkpoints) {
    upsert.run(
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
      c.fileSize ?? null,
      c.state,
    );
  }
  db.prepare("DELETE FROM checkpoints WHERE seen_ms < ?").run(nowMs - CHECKPOINT_RETENTION_MS);
}

function writeLosses(db: DatabaseSync, losses: Loss[], detectedMs: number, seq: number): void {
  const insert = db.prepare(
    `INSERT INTO losses (detected_ms, path, fingerprint, unread_bytes, from_ms, to_ms, change_seq)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const l of losses) {
    insert.run(detectedMs, l.path, l.fingerprint, l.unreadBytes, l.from ?? null, l.to, seq);
  }
}

function replaceNotices(db: DatabaseSync, notices: Notice[]): void {
  db.exec("DELETE FROM notices");
  const insert = db.prepare("INSERT INTO notices (kind, first_ms, said_ms) VALUES (?, ?, ?)");
  for (const n of notices) insert.run(n.kind, n.firstMs, n.saidMs);
}

/**
 * Sets the watch start of each server host this run read events of for the
 * first time: the earliest event instant it read (logins, failed attempts,
 * change-users still pending). A start once set never moves: older events a
 * later run reads (an archived file dropped in, a wider glob) count as logins,
 * but nothing between them and the start was read.
 */
function writeWatch(db: DatabaseSync, earliest: Map<string, number>, outcome: RunOutcome): void {
  for (const p of outcome.pending) noteEarliest(earliest, p.serverHost, p.at);
  const upsert = db.prepare(
    `INSERT INTO watch (server_host, first_event_ms, first_run_ms) VALUES (?, ?, ?)
     ON CONFLICT (server_host) DO NOTHING`,
  );
  for (const [host, at] of earliest) upsert.run(host, at, outcome.metrics.startedMs);
}

/** Keeps in `earliest` the earliest event instant of each server host. */
function noteEarliest(earliest: Map<string, number>, serverHost: string, at?: number): void {
  if (at === undefined) return;
  const before = earliest.get(serverHost);
  if (before === undefined || at < before) earliest.set(serverHost, at);
}

function writeMetrics(db: DatabaseSync, m: RunMetrics): void {
  db.prepare(
    `INSERT INTO runs (started_ms, finished_ms, files_read, bytes_read, logins, failed_attempts,
       malformed, long_lines, empty_user, losses, errors, audit_files, change_users_dropped,
       bad_timestamps) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    m.startedMs,
    m.finishedMs,
    m.filesRead,
    m.bytesRead,
    m.logins,
    m.failed,
    m.malformed,
    m.longLines,
    m.emptyUser,
    m.losses,
    m.errors,
    m.auditFiles,
    m.changeUsersDropped,
    m.badTimestamps,
  );
}

/**
 * Writes a run's outcome inside its transaction: `Accounts.last_seen` keeps
 * the later instant, activity counts add up, the watermark row moves forward
 * only, a server host seen for the first time gets its watch start (the
 * earliest event this run read of it; later runs never move it),
 * and the run's metrics become a `runs` row.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * import { openStore } from "./database.ts";
 * import { beginRun, commitRun } from "./schema.ts";
 * const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
 * const store = openStore(":memory:", { lockTimeoutMs: 0, times });
 * beginRun(store);
 * const metrics = {
 *   startedMs: 0, finishedMs: 0, filesRead: 0, bytesRead: 0, logins: 1, failed: 0, malformed: 0,
 *   badTimestamps: 0, longLines: 0, emptyUser: 0, changeUsersResolved: 0, changeUsersDropped: 0,
 *   changeUsersPending: 0, candidates: 1, rescans: 0, losses: 0, errors: 0, auditFiles: 1,
 * };
 * const bob = { user: "bob", host: "%", serverHost: "vm", logins: 1, lastLogin: 0, failed: 0 };
 * writeRun(store, {
 *   accounts: new Set([bob]),
 *   proxies: [], pending: [], checkpoints: [], losses: [], metrics, notices: [],
 * });
 * commitRun(store);
 * ```
 */
export function writeRun(store: Store, outcome: RunOutcome): void {
  const { db, path, times } = store;
  const nowMs = outcome.metrics.finishedMs;
  guard(path, () => {
    const setLastSeen = lastSeenWriter(db, times);
    // The rows this run changes carry its change number: what the next push sends.
    const changed = outcome.accounts.size + outcome.proxies.length + outcome.losses.length > 0;
    const seq = changed ? nextChangeSeq(db) : 0;
    const earliest = new Map<string, number>();
    writeActivity(db, setLastSeen, outcome.accounts, seq, earliest);
    writeProxies(db, outcome.proxies, seq);
    replacePending(db, outcome.pending);
    writeCheckpoints(db, outcome.checkpoints, nowMs);
    writeLosses(db, outcome.losses, nowMs, seq);
    writeWatch(db, earliest, outcome);
    if (outcome.watermarkMs !== undefined) {
      const { user, host } = WATERMARK_ACCOUNT;
      setLastSeen(user, host, outcome.watermarkMs, false);
    }
    replaceNotices(db, outcome.notices);
    if (outcome.journalCursor) {
      db.prepare(
        "INSERT OR REPLACE INTO journal_cursors (source, cursor, seen_ms) VALUES (?, ?, ?)",
      )
        .run(outcome.journalCursor.source, outcome.journalCursor.cursor, nowMs);
    }
    writeMetrics(db, outcome.metrics);
  });
}
