/**
 * The fleet report's side of the central store: every server that pushed
 * (its cluster, what its data covers, when it pushed), and per server the
 * same {@link Observations} a local report reads from SQLite, with the
 * accounts it defines. Reads only, each node synced first
 * (`wsrep_sync_wait`), so a report right after a push sees it.
 *
 * @module
 */

import type { Account } from "../format/account.ts";
import type { Observation, Observations } from "../store/report_reads.ts";
import type { CentralConfig } from "./config.ts";
import { connect, type Deadline, type Link, query, type Row, type Timeouts } from "./connect.ts";
import { checkCentral } from "./schema.ts";

/** One server that pushed. Times are epoch milliseconds. */
export interface ServerInfo {
  serverId: string;
  /** Its Galera cluster, `""` for a server on its own. */
  cluster: string;
  /** When its database began watching (its earliest event read). */
  watchedSinceMs?: number;
  /** When the latest run its data comes from started (it read what the logs held then). */
  dataUntilMs?: number;
  pushedMs: number;
  /** Audit data it lost to rotation: written between these instants (`fromMs` unknown if absent). */
  losses: { fromMs?: number; toMs: number }[];
  /** The accounts it defines, when it pushed them, and when they were read. */
  defined?: Account[];
  accountsReadMs?: number;
}

/** What the central store holds. */
export interface FleetData {
  servers: ServerInfo[];
  /** Keyed by server id. */
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
  if (!found) map.set(serverId, found = { accounts: [], proxies: [] });
  return found;
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
    for (const r of await all(link, "SELECT * FROM servers ORDER BY server_id", deadline)) {
      const info: ServerInfo = {
        serverId: String(r.server_id),
        cluster: String(r.cluster),
        pushedMs: Number(r.pushed_ms),
        losses: [],
      };
      const watched = optional(r.watched_since_ms), until = optional(r.data_until_ms);
      const read = optional(r.accounts_read_ms);
      if (watched !== undefined) info.watchedSinceMs = watched;
      if (until !== undefined) info.dataUntilMs = until;
      if (read !== undefined && r.accounts_hash !== null) {
        [info.accountsReadMs, info.defined] = [read, []];
      }
      servers.set(info.serverId, info);
    }
    for (const r of await all(link, "SELECT * FROM defined_accounts", deadline)) {
      servers.get(String(r.server_id))?.defined?.push({
        user: String(r.name),
        host: String(r.host),
      });
    }
    for (const r of await all(link, "SELECT * FROM losses", deadline)) {
      const loss: { fromMs?: number; toMs: number } = { toMs: Number(r.to_ms) };
      const from = optional(r.from_ms);
      if (from !== undefined) loss.fromMs = from;
      servers.get(String(r.server_id))?.losses.push(loss);
    }
    const observations = new Map<string, Observations>();
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
      observationsOf(observations, String(r.server_id)).proxies.push({
        user: String(r.name),
        host: String(r.host),
        proxiedUser: String(r.proxied_user),
        proxiedHost: String(r.proxied_host),
        logins: Number(r.logins),
        lastLogin: Number(r.last_login_ms),
      });
    }
    await all(link, "COMMIT", deadline);
    return { servers: [...servers.values()], observations };
  } finally {
    await link.conn.end().catch(() => link.conn.destroy());
  }
}
