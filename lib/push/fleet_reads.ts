/**
 * The fleet report's side of the central store: every server that pushed
 * (its cluster, when it pushed, its accounts, its own login, whether it
 * resolves names), and per server the same {@link Observations} a local
 * report reads from SQLite: activity, proxy logins, since when it watches,
 * its losses and its last run. Reads only, each node synced first
 * (`wsrep_sync_wait`), so a report right after a push sees it.
 *
 * @module
 */

import type { Account } from "../format/account.ts";
import type { SelfLogin } from "../report/build.ts";
import type { NameResolution } from "../report/candidates.ts";
import { proxyOfRow } from "../store/changes.ts";
import type { Observation, Observations } from "../store/report_reads.ts";
import type { CentralConfig } from "./config.ts";
import { connect, type Deadline, type Link, query, type Row, type Timeouts } from "./connect.ts";
import { checkCentral } from "./schema.ts";

/** One server that pushed. Times are epoch milliseconds. */
export interface ServerInfo {
  serverId: string;
  /** Its Galera cluster, `""` for a server on its own. */
  cluster: string;
  pushedMs: number;
  /** The accounts it defines, when it pushed them, and when they were read. */
  defined?: Account[];
  accountsReadMs?: number;
  /** Whether it resolves client names, as it said (`unknown` when it was not asked). */
  nameResolution: NameResolution;
  /** The login its pushes make to it: the audit log records it like any other. */
  self?: SelfLogin;
}

/** What the central store holds. */
export interface FleetData {
  servers: ServerInfo[];
  /**
   * Keyed by server id: what a local report reads from that server's
   * database (its watch start as its one `watched` entry, its losses, its
   * last run).
   */
  observations: Map<string, Observations>;
}

function optional(v: unknown): number | undefined {
  return v === null || v === undefined ? undefined : Number(v);
}

async function all(link: Link, sql: string, deadline: Deadline): Promise<Row[]> {
  return await query(link, sql, [], deadline);
}

function observationsOf(map: Map<string, Observations>, serverId: string): Observations {
  let found = map.get(serverId);
  if (!found) {
    found = { accounts: [], proxies: [], watched: [], losses: [], runs: [] };
    map.set(serverId, found);
  }
  return found;
}

function account(user: unknown, host: unknown): Account | undefined {
  return user === null || host === null ? undefined : { user: String(user), host: String(host) };
}

/**
 * Reads everything the fleet report needs, in one transaction (one
 * consistent snapshot).
 *
 * @example
 * ```ts
 * import { parseCentralSection } from "./config.ts";
 * import { TIMEOUTS } from "./connect.ts";
 * const config = parseCentralSection({ Hosts: "db1", User: "reader", PasswordFile: "/etc/r.pw" });
 * const data = await readFleet(config, TIMEOUTS);
 * data.servers.length;
 * ```
 * @throws {CentralError} when no host can be used or no server has pushed yet.
 */
export async function readFleet(config: CentralConfig, timeouts: Timeouts): Promise<FleetData> {
  const deadline = { at: Date.now() + timeouts.deadlineMs, now: Date.now };
  const link = await connect(config, { deadline, timeouts });
  try {
    await checkCentral(link, deadline);
    await all(link, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", deadline);
    const servers = new Map<string, ServerInfo>();
    const observations = new Map<string, Observations>();
    for (const r of await all(link, "SELECT * FROM servers ORDER BY server_id", deadline)) {
      const mode = String(r.name_resolution);
      const info: ServerInfo = {
        serverId: String(r.server_id),
        cluster: String(r.cluster),
        pushedMs: Number(r.pushed_ms),
        nameResolution: mode === "on" || mode === "off" ? mode : "unknown",
      };
      const read = optional(r.accounts_read_ms);
      if (read !== undefined && r.accounts_hash !== null) {
        [info.accountsReadMs, info.defined] = [read, []];
      }
      const self = account(r.self_user, r.self_host),
        client = account(r.client_user, r.client_host);
      if (self && client) info.self = { account: self, client, who: "the push" };
      servers.set(info.serverId, info);
      const observed = observationsOf(observations, info.serverId);
      const watched = optional(r.watched_since_ms), until = optional(r.data_until_ms);
      if (watched !== undefined) {
        observed.watched.push({
          serverHost: info.serverId,
          firstEvent: watched,
          firstRun: watched,
        });
      }
      // The server's last successful read, as one run (its gaps came as losses).
      if (until !== undefined) observed.runs.push({ startedMs: until, errors: 0, auditFiles: 1 });
    }
    for (const r of await all(link, "SELECT * FROM defined_accounts", deadline)) {
      servers.get(String(r.server_id))?.defined?.push({
        user: String(r.name),
        host: String(r.host),
      });
    }
    for (const r of await all(link, "SELECT * FROM losses", deadline)) {
      const from = optional(r.from_ms);
      observationsOf(observations, String(r.server_id)).losses.push({
        path: String(r.path),
        unreadBytes: Number(r.unread_bytes),
        ...from === undefined ? {} : { from },
        to: Number(r.to_ms),
      });
    }
    for (const r of await all(link, "SELECT * FROM activity", deadline)) {
      const o: Observation = {
        user: String(r.name),
        host: String(r.host),
        logins: Number(r.logins),
        failed: Number(r.failed_attempts),
      };
      const last = optional(r.last_login_ms), failed = optional(r.last_failed_ms);
      if (last !== undefined) o.lastLogin = last;
      if (failed !== undefined) o.lastFailed = failed;
      observationsOf(observations, String(r.server_id)).accounts.push(o);
    }
    for (const r of await all(link, "SELECT * FROM proxy_logins", deadline)) {
      observationsOf(observations, String(r.server_id)).proxies.push(proxyOfRow(r));
    }
    await all(link, "COMMIT", deadline);
    return { servers: [...servers.values()], observations };
  } finally {
    await link.conn.end().catch(() => link.conn.destroy());
  }
}
