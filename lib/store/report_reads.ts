/**
 * The report's side of the store: every logged `user@host` with its counts,
 * from our tables and from the old tool's `Accounts` rows, the proxy logins,
 * since when each server host is watched, and the data lost. Reads only.
 *
 * @module
 */

import { accountKey } from "../format/account.ts";
import type { ProxyActivity } from "../track/aggregate.ts";
import { guard, NoRunYetError, type Store, StoreError } from "./database.ts";
import { WATERMARK_ACCOUNT } from "./schema.ts";
import { parseStoredTime } from "./stored_time.ts";

/** What the database knows of one logged `user@host`. */
export interface Observation {
  user: string;
  host: string;
  logins: number;
  lastLogin?: number;
  failed: number;
  lastFailed?: number;
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

/** Everything a report needs from the database. */
export interface Observations {
  accounts: Observation[];
  proxies: ProxyActivity[];
  /** Empty when nothing has been read yet (or the schema predates the watch table). */
  watched: Watched[];
  losses: LostRange[];
  /** When the last run started (it read what the logs held then), if any run completed. */
  lastRun?: number;
}

/**
 * Reads every logged `user@host`: the activity table, and the `Accounts` rows
 * of logins read by the old tool (their counts are unknown). The watermark
 * row of `Accounts` is not an account's activity.
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
      const o: Observation = {
        user: String(r.name),
        host: String(r.host),
        logins: Number(r.logins),
        failed: Number(r.failed_attempts),
      };
      if (r.last_login_ms != null) o.lastLogin = Number(r.last_login_ms);
      if (r.last_failed_ms != null) o.lastFailed = Number(r.last_failed_ms);
      byKey.set(accountKey(o.user, o.host), o);
    }
    const old = db.prepare("SELECT name, host, last_seen FROM Accounts").all() as Record<
      string,
      unknown
    >[];
    for (const r of old) {
      const user = String(r.name), host = String(r.host);
      if (user === WATERMARK_ACCOUNT.user && host === WATERMARK_ACCOUNT.host) continue;
      const at = r.last_seen == null ? undefined : parseStoredTime(times, String(r.last_seen));
      const key = accountKey(user, host);
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
    const last = tables.has("runs")
      ? (db.prepare("SELECT MAX(started_ms) AS at FROM runs").get() as { at: unknown }).at
      : null;
    return {
      accounts: [...byKey.values()],
      proxies,
      watched,
      losses,
      ...(last == null ? {} : { lastRun: Number(last) }),
    };
  });
}
