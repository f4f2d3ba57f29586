/**
 * The report's side of the store: every logged `user@host` with its counts,
 * from our tables and from the old tool's `Accounts` rows, the proxy logins,
 * since when each server host is watched, the data lost, and what each run
 * read. Reads only.
 *
 * @module
 */

import { accountKey } from "../format/account.ts";
import { stripPort } from "../format/record.ts";
import type { ProxyActivity } from "../track/aggregate.ts";
import { guard, NoRunYetError, type Store, StoreError } from "./database.ts";
import { AUDIT_FILES_BEFORE_4, WATERMARK_ACCOUNT } from "./schema.ts";
import { parseStoredTime } from "./stored_time.ts";

/** What the database knows of one logged `user@host`. */
export interface Observation {
  user: string;
  host: string;
  logins: number;
  lastLogin?: number;
  failed: number;
  lastFailed?: number;
  /** The old tool's `last_seen` texts for it that cannot be read: logins at an unknown time. */
  unreadableLastSeen?: string[];
}

/** Since when a server host is watched. Times are epoch milliseconds. */
export interface Watched {
  serverHost: string;
  /** The earliest event instant read from its logs. */
  firstEvent: number;
  /** When the run that first read it started. */
  firstRun: number;
}

/** Audit data removed by rotation before it was read. */
export interface LostRange {
  path: string;
  unreadBytes: number;
  /** The unread bytes were written between these instants; `from` unknown: any time before `to`. */
  from?: number;
  to: number;
}

/** What one run did that tells whether it read the audit log. Times are epoch milliseconds. */
export interface RunRecord {
  startedMs: number;
  /** Audit files it found; `undefined`: not recorded (a run before schema 4). */
  auditFiles?: number;
  /** Files (or listings) it could not read. */
  errors: number;
  /** Change-users it dropped (their account never named); `undefined`: not recorded. */
  changeUsersDropped?: number;
  /** Sign-ins with a timestamp it could not read; `undefined`: not recorded. */
  badTimestamps?: number;
}

/** Everything a report needs from the database. */
export interface Observations {
  accounts: Observation[];
  proxies: ProxyActivity[];
  /** Empty when nothing has been read yet (or the schema predates the watch table). */
  watched: Watched[];
  losses: LostRange[];
  /** The runs, oldest first. */
  runs: RunRecord[];
}

/**
 * What a row of the `activity` table says of its `user@host`.
 *
 * @example
 * ```ts
 * observationOf({ name: "app", host: "%", logins: 2, failed_attempts: 0, last_login_ms: 5 });
 * // { user: "app", host: "%", logins: 2, failed: 0, lastLogin: 5 }
 * ```
 */
export function observationOf(row: Record<string, unknown>): Observation {
  const o: Observation = {
    user: String(row.name),
    host: String(row.host),
    logins: Number(row.logins),
    failed: Number(row.failed_attempts),
  };
  if (row.last_login_ms != null) o.lastLogin = Number(row.last_login_ms);
  if (row.last_failed_ms != null) o.lastFailed = Number(row.last_failed_ms);
  return o;
}

/**
 * The runs, oldest first (none before a first run): what tells when the audit
 * log was read successfully.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * readRunRecords(new DatabaseSync("/var/lib/mysql/audit.sqlite")).at(-1)?.startedMs;
 * ```
 */
export function readRunRecords(db: Store["db"]): RunRecord[] {
  const tables = new Set(
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
      name: string;
    }[]).map((r) => r.name),
  );
  return tables.has("runs") ? readRuns(db, tables) : [];
}

/**
 * The runs, oldest first. A database a run of this version has not upgraded
 * yet lacks the columns of schema 4: the audit files found are then what
 * migration 4 will set, the rest is not recorded.
 */
function readRuns(db: Store["db"], tables: Set<string>): RunRecord[] {
  const columns = new Set(
    (db.prepare("PRAGMA table_info(runs)").all() as { name: string }[]).map((c) => c.name),
  );
  const column = (name: string, before = "NULL") =>
    columns.has(name) ? name : `${before} AS ${name}`;
  const auditFiles = column("audit_files", tables.has("notices") ? AUDIT_FILES_BEFORE_4 : "NULL");
  const rows = db.prepare(
    `SELECT started_ms, errors, ${auditFiles}, ${column("change_users_dropped")},
       ${column("bad_timestamps")} FROM runs ORDER BY started_ms`,
  ).all() as Record<string, number | null>[];
  const optional = (v: number | null) => v === null ? undefined : Number(v);
  return rows.map((r) => ({
    startedMs: Number(r.started_ms),
    errors: Number(r.errors),
    auditFiles: optional(r.audit_files),
    changeUsersDropped: optional(r.change_users_dropped),
    badTimestamps: optional(r.bad_timestamps),
  }));
}

/**
 * Reads every logged `user@host`: the activity table, and the `Accounts` rows
 * of logins read by the old tool (their counts are unknown; their hosts lose
 * the `:port` or `:unavailable` the old tool kept, as the parser strips it, and
 * rows that then share a `user@host` keep the later time; a `last_seen` that
 * cannot be read is kept as such). The watermark row of `Accounts` is not an
 * account's activity.
 *
 * @throws {NoRunYetError} when the database has no tables yet (a first run has
 * not committed), and {@link StoreError} when it is not conntracker's.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * import { openStoreReadOnly } from "./database.ts";
 * const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
 * const { accounts } = readObservations(openStoreReadOnly("/var/lib/mysql/audit.sqlite", times));
 * ```
 */
export function readObservations(store: Store): Observations {
  const { db, path, times } = store;
  return guard(path, () => {
    const tables = new Set(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
        name: string;
      }[]).map((r) => r.name),
    );
    if (tables.size === 0) {
      // A first run creates the tables in its transaction: until it commits, there are none.
      throw new NoRunYetError(
        path,
        "No run has completed yet: the database has no tables (a first run may be under way)",
      );
    }
    if (!tables.has("Accounts")) {
      throw new StoreError(path, "Database has no Accounts table: not a conntracker database");
    }
    const byKey = new Map<string, Observation>();
    const rows = tables.has("activity")
      ? db.prepare("SELECT * FROM activity").all() as Record<string, unknown>[]
      : [];
    for (const r of rows) {
      const o = observationOf(r);
      byKey.set(accountKey(o.user, o.host), o);
    }
    const old = db.prepare("SELECT name, host, last_seen FROM Accounts").all() as Record<
      string,
      unknown
    >[];
    for (const r of old) {
      const user = String(r.name), raw = String(r.host);
      if (user === WATERMARK_ACCOUNT.user && raw === WATERMARK_ACCOUNT.host) continue;
      // The old tool kept `host:port` and `localhost:unavailable` as the log wrote them.
      const host = stripPort(raw);
      const text = r.last_seen == null ? "" : String(r.last_seen);
      const at = text === "" ? undefined : parseStoredTime(times, text);
      const key = accountKey(user, host);
      const o = byKey.get(key) ?? { user, host, logins: 0, failed: 0 };
      if (at === undefined) (o.unreadableLastSeen ??= []).push(text);
      else if (o.lastLogin === undefined || at > o.lastLogin) o.lastLogin = at;
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
    const watched = tables.has("watch")
      ? (db.prepare("SELECT * FROM watch").all() as Record<string, unknown>[]).map((r) => ({
        serverHost: String(r.server_host),
        firstEvent: Number(r.first_event_ms),
        firstRun: Number(r.first_run_ms),
      }))
      : [];
    const losses = tables.has("losses")
      ? (db.prepare("SELECT * FROM losses").all() as Record<string, unknown>[]).map((r) => ({
        path: String(r.path),
        unreadBytes: Number(r.unread_bytes),
        ...(r.from_ms == null ? {} : { from: Number(r.from_ms) }),
        to: Number(r.to_ms ?? r.detected_ms),
      }))
      : [];
    return {
      accounts: [...byKey.values()],
      proxies,
      watched,
      losses,
      runs: tables.has("runs") ? readRuns(db, tables) : [],
    };
  });
}
