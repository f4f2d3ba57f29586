/**
 * The local side of a push: the change sequence (each run that writes
 * activity takes the next number, and the rows it writes carry it), this
 * database's incarnation id (random, made when the database was created or
 * upgraded, so a recreated database is a new incarnation), the change set a
 * push sends, and what the central store acknowledged.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { stripPort } from "../format/record.ts";
import type { ProxyActivity } from "../track/aggregate.ts";
import { guard, type Store } from "./database.ts";
import { readHistory } from "./read_history.ts";
import { type Observation, observationOf, readRunRecords } from "./report_reads.ts";
import { WATERMARK_ACCOUNT } from "./schema.ts";
import { parseStoredTime } from "./stored_time.ts";

/** One `user@host` as a push sends it: absolute counts and times. */
export interface ChangedActivity extends Observation {
  firstLogin?: number;
}

/** Audit data lost to rotation, as a push sends it. Times are epoch milliseconds. */
export interface ChangedLoss {
  detectedMs: number;
  path: string;
  fingerprint: string;
  unreadBytes: number;
  /** The unread bytes were written between these instants (`fromMs` unknown when absent). */
  fromMs?: number;
  toMs: number;
}

/** This database's push bookkeeping. */
export interface PushState {
  /** Random, per database file: a recreated database has another one. */
  incarnation: string;
  /** The latest change number a run took. */
  changeSeq: number;
  /** The change number the central store acknowledged last, as far as this database knows. */
  ackedSeq?: number;
}

/** What a push sends: rows changed after `sinceSeq` (all rows when it is `undefined`). */
export interface ChangeSet {
  state: PushState;
  sinceSeq?: number;
  activity: ChangedActivity[];
  proxies: ProxyActivity[];
  losses: ChangedLoss[];
  /** Since when this database has watched every server host it read (its `watch` table). */
  watchedSinceMs?: number;
  /** When the last run that read the audit log successfully started: what it held then is read. */
  dataUntilMs?: number;
}

/**
 * Takes the next change number for a run's writes (inside its transaction).
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
 * nextChangeSeq(store.db); // 2
 * ```
 */
export function nextChangeSeq(db: DatabaseSync): number {
  const row = db.prepare(
    "UPDATE push_state SET change_seq = change_seq + 1 RETURNING change_seq",
  ).get() as { change_seq: number };
  return Number(row.change_seq);
}

function readState(db: DatabaseSync): PushState {
  const table = db.prepare(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'push_state'",
  ).get();
  if (!table) return { incarnation: "", changeSeq: 0 };
  const row = db.prepare("SELECT incarnation, change_seq, acked_seq FROM push_state").get() as
    | Record<string, unknown>
    | undefined;
  if (!row) return { incarnation: "", changeSeq: 0 };
  const state: PushState = {
    incarnation: String(row.incarnation),
    changeSeq: Number(row.change_seq),
  };
  if (row.acked_seq != null) state.ackedSeq = Number(row.acked_seq);
  return state;
}

/**
 * Reads the push state (an empty incarnation for a database that no run of
 * this version has written yet).
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * import { openStoreReadOnly } from "./database.ts";
 * const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
 * readPushState(openStoreReadOnly("/var/lib/mysql/audit.sqlite", times)).incarnation;
 * ```
 */
export function readPushState(store: Store): PushState {
  return guard(store.path, () => readState(store.db));
}

/**
 * A proxy login from a `proxy_logins` row, as SQLite or the central store
 * gives it (the same column names).
 *
 * @example
 * ```ts
 * proxyOfRow({
 *   name: "plug", host: "localhost", proxied_user: "dest", proxied_host: "%", logins: 2,
 *   last_login_ms: 5,
 * }).proxiedUser; // "dest"
 * ```
 */
export function proxyOfRow(r: Record<string, unknown>): ProxyActivity {
  return {
    user: String(r.name),
    host: String(r.host),
    proxiedUser: String(r.proxied_user),
    proxiedHost: String(r.proxied_host),
    logins: Number(r.logins),
    lastLogin: Number(r.last_login_ms),
  };
}

function activityRow(r: Record<string, unknown>): ChangedActivity {
  const a: ChangedActivity = observationOf(r);
  if (r.first_login_ms != null) a.firstLogin = Number(r.first_login_ms);
  return a;
}

/**
 * Reads, in one snapshot, the rows changed after `sinceSeq` (activity, proxy
 * logins, losses; every row when
 * it is `undefined`, the old tool's `Accounts` rows without activity
 * included, as logins of unknown count), with the state they belong to.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * import { openStoreReadOnly } from "./database.ts";
 * const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
 * const changes = readChangeSet(openStoreReadOnly("/var/lib/mysql/audit.sqlite", times), 41);
 * changes.activity.length;
 * ```
 */
export function readChangeSet(store: Store, sinceSeq: number | undefined): ChangeSet {
  const { db, path, times } = store;
  return guard(path, () => {
    db.exec("BEGIN");
    try {
      const state = readState(db);
      const since = sinceSeq ?? -1;
      const activity = (db.prepare(
        `SELECT name, host, logins, first_login_ms, last_login_ms, failed_attempts, last_failed_ms
         FROM activity WHERE change_seq > ? AND change_seq <= ?`,
      ).all(since, state.changeSeq) as Record<string, unknown>[]).map(activityRow);
      if (sinceSeq === undefined) {
        const old = db.prepare(
          `SELECT name, host, last_seen FROM Accounts a WHERE NOT (name = ? AND host = ?)
           AND NOT EXISTS (SELECT 1 FROM activity WHERE name = a.name AND host = a.host)`,
        ).all(WATERMARK_ACCOUNT.user, WATERMARK_ACCOUNT.host) as Record<string, unknown>[];
        for (const r of old) {
          const at = r.last_seen == null ? undefined : parseStoredTime(times, String(r.last_seen));
          const a: ChangedActivity = {
            user: String(r.name),
            // The old tool kept `host:port`; the report strips it as the parser does.
            host: stripPort(String(r.host)),
            logins: 0,
            failed: 0,
          };
          if (at !== undefined) a.lastLogin = at;
          activity.push(a);
        }
      }
      const proxies = (db.prepare(
        `SELECT name, host, proxied_user, proxied_host, logins, last_login_ms FROM proxy_logins
         WHERE change_seq > ? AND change_seq <= ?`,
      ).all(since, state.changeSeq) as Record<string, unknown>[]).map(proxyOfRow);
      // Watched since every server host's first event read (the latest of them, as the
      // local report takes it); read until the last run that read the audit log
      // successfully. Stretches of runs that did not read it go as losses: logins may have
      // been rotated away unread then (sent again after a full resend, else once).
      const watch = db.prepare("SELECT MAX(first_event_ms) AS since FROM watch").get() as {
        since: number | null;
      };
      const history = readHistory(readRunRecords(db));
      const losses = (db.prepare(
        `SELECT detected_ms, path, fingerprint, unread_bytes, from_ms, to_ms FROM losses
         WHERE change_seq > ? AND change_seq <= ?`,
      ).all(since, state.changeSeq) as Record<string, unknown>[]).map((r) => {
        const l: ChangedLoss = {
          detectedMs: Number(r.detected_ms),
          path: String(r.path),
          fingerprint: String(r.fingerprint),
          unreadBytes: Number(r.unread_bytes),
          toMs: Number(r.to_ms ?? r.detected_ms),
        };
        if (r.from_ms != null) l.fromMs = Number(r.from_ms);
        return l;
      });
      const { acked_ms: ackedMs } = db.prepare("SELECT acked_ms FROM push_state").get() as {
        acked_ms: number | null;
      };
      for (const gap of history.notRead) {
        if (gap.after === undefined || gap.until === undefined) continue;
        if (sinceSeq !== undefined && ackedMs !== null && gap.until <= ackedMs) continue;
        losses.push({
          detectedMs: gap.until,
          path: "(runs that did not read the audit log)",
          fingerprint: `not-read:${gap.after}`,
          unreadBytes: 0,
          fromMs: gap.after,
          toMs: gap.until,
        });
      }
      const changes: ChangeSet = { state, activity, proxies, losses };
      if (sinceSeq !== undefined) changes.sinceSeq = sinceSeq;
      if (watch.since != null) changes.watchedSinceMs = Number(watch.since);
      if (history.lastRead !== undefined) changes.dataUntilMs = history.lastRead;
      return changes;
    } finally {
      db.exec("COMMIT");
    }
  });
}

/**
 * Records that the central store acknowledged `ackedSeq` of `incarnation`
 * (nothing when the database has become another incarnation meanwhile).
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * import { openStore } from "./database.ts";
 * const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
 * const store = openStore("/var/lib/mysql/audit.sqlite", { lockTimeoutMs: 5000, times });
 * recordAck(store, { incarnation: "9f0c…", ackedSeq: 42, atMs: Date.now() });
 * ```
 */
export function recordAck(
  store: Store,
  ack: { incarnation: string; ackedSeq: number; atMs: number },
): void {
  guard(store.path, () => {
    store.db.prepare(
      "UPDATE push_state SET acked_seq = ?, acked_ms = ? WHERE incarnation = ?",
    ).run(ack.ackedSeq, ack.atMs, ack.incarnation);
  });
}
