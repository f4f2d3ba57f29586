/**
 * Building the fleet report: per group (a Galera cluster, or all servers on
 * their own), each server's observations judged as a local report judges
 * them (`buildReport`: the accounts it defines, or its group's when it pushed
 * none; its watch window, losses and last run; its own push login as a doubt),
 * then merged per account: the latest login over all servers, which servers
 * saw it, which define it, and one status:
 *
 * - `used` when any server saw a certain login in the period;
 * - otherwise `unknown` when any server that could hold it cannot tell (its
 *   window is shorter than the period, it lost data in it, it has not pushed
 *   recently, its logins may be this account or another), with each such
 *   server's reason;
 * - otherwise `unused` when some server saw a login (before the period), and
 *   `never-seen` when none did.
 *
 * A server that defines an account could hold it; a server that pushed no
 * account list could hold any of its group's: where it has no row for an
 * account, it is judged as having seen no login of it, in its own window. Names are not resolved here:
 * the central side cannot resolve them as each server would, so a logged
 * name stays a doubt.
 *
 * @module
 */

import { type Account, accountKey } from "../format/account.ts";
import { isIpAddress } from "../report/accounts.ts";
import { buildReport, type ReportRow, type Unmatched, watchStart } from "../report/build.ts";
import { type Status, verdict } from "../report/verdict.ts";
import { readHistory } from "../store/read_history.ts";
import type { FleetData, ServerInfo } from "./fleet_reads.ts";

/** One account of the fleet report. */
export interface FleetRow extends ReportRow {
  /** The Galera cluster, `""` for servers on their own. */
  cluster: string;
  /** Servers with a certain login of it, sorted. */
  seenBy: string[];
  /** Servers that define it, sorted. */
  definedOn: string[];
  /** Since when every server that judged it has watched; `undefined`: one has read nothing. */
  watchedSince?: number;
}

/** A logged `user@host` that no account its server defines takes. */
export interface FleetUnmatched extends Unmatched {
  serverId: string;
  cluster: string;
}

/** The fleet report's rows, and what could not be attributed. */
export interface Fleet {
  rows: FleetRow[];
  unmatched: FleetUnmatched[];
}

/** The asked period and its end. */
export interface FleetOptions {
  /** `--unused-for`; without it, `used` means a login was ever recorded. */
  periodMs?: number;
  now: number;
  /** Formats an instant for a reason. */
  time: (ms: number) => string;
}

/** The order in which one server's status decides the fleet's. */
const PRECEDENCE: Status[] = ["used", "unknown", "unused", "never-seen"];

function later(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  return b === undefined || a > b ? a : b;
}

/** The accounts every server of a group that pushed a list defines, each once. */
function groupAccounts(servers: ServerInfo[]): Account[] | undefined {
  const lists = servers.filter((s) => s.defined !== undefined);
  if (lists.length === 0) return undefined;
  const all = new Map<string, Account>();
  for (const s of lists) for (const a of s.defined!) all.set(accountKey(a.user, a.host), a);
  return [...all.values()];
}

/** One server's rows, judged by the local report's rules. */
function judge(
  server: ServerInfo,
  data: FleetData,
  defined: Account[] | undefined,
  options: FleetOptions,
) {
  const observed = data.observations.get(server.serverId) ??
    { accounts: [], proxies: [], watched: [], losses: [], runs: [] };
  // A logged name other than localhost means the server resolved names then.
  const named = observed.accounts.some((o) => o.host !== "localhost" && !isIpAddress(o.host));
  const mode = server.nameResolution === "off" && named ? "unknown" : server.nameResolution;
  return buildReport({
    observed: observed.accounts,
    proxies: observed.proxies,
    defined,
    resolution: { mode, addresses: new Map() },
    watched: observed.watched,
    losses: observed.losses,
    runs: observed.runs,
    now: options.now,
    periodMs: options.periodMs,
    self: defined && server.self,
    time: options.time,
  });
}

/**
 * What `server` says of an account it has no row for, though it could hold
 * it (it pushed no account list): no login there, judged in its own window.
 */
function unseen(
  server: ServerInfo,
  data: FleetData,
  account: { name: string; host: string },
  options: FleetOptions,
): Judged {
  const observed = data.observations.get(server.serverId);
  const watchedSince = watchStart(observed?.watched ?? []);
  const ctx = {
    ...options,
    watchedSince,
    reads: readHistory(observed?.runs ?? []),
    losses: observed?.losses ?? [],
  };
  const row: ReportRow = {
    ...account,
    ...verdict({ doubts: [] }, ctx),
    logins: 0,
    uncertainLogins: 0,
    failedAttempts: 0,
    clientHosts: [],
    doubts: [],
  };
  return { server, row, watchedSince };
}

/** One server's row of an account, and since when that server has watched. */
interface Judged {
  server: ServerInfo;
  row: ReportRow;
  watchedSince?: number;
}

/** Merges one account's rows of several servers into the fleet's row. */
function merge(cluster: string, judged: Judged[]): FleetRow {
  const [first] = judged;
  const row: FleetRow = {
    name: first.row.name,
    host: first.row.host,
    cluster,
    status: "never-seen",
    reason: "",
    logins: 0,
    uncertainLogins: 0,
    failedAttempts: 0,
    clientHosts: [],
    doubts: [],
    seenBy: [],
    definedOn: [],
  };
  let watchedSince: number | undefined = -Infinity;
  for (const { server, row: r, watchedSince: since } of judged) {
    row.logins += r.logins;
    row.uncertainLogins += r.uncertainLogins;
    row.failedAttempts += r.failedAttempts;
    row.lastSeen = later(row.lastSeen, r.lastSeen);
    row.lastUncertain = later(row.lastUncertain, r.lastUncertain);
    row.lastFailed = later(row.lastFailed, r.lastFailed);
    for (const h of r.clientHosts) if (!row.clientHosts.includes(h)) row.clientHosts.push(h);
    row.doubts.push(...r.doubts.map((d) => ({ ...d, why: `${server.serverId}: ${d.why}` })));
    if (r.logins > 0 || r.lastSeen !== undefined) row.seenBy.push(server.serverId);
    const own = server.defined?.some((a) => a.user === row.name && a.host === row.host);
    if (own) row.definedOn.push(server.serverId);
    watchedSince = since === undefined || watchedSince === undefined
      ? undefined
      : Math.max(watchedSince, since);
  }
  row.status = PRECEDENCE.find((s) => judged.some((j) => j.row.status === s))!;
  row.reason = judged.filter((j) => j.row.status === row.status)
    .map((j) => `${j.server.serverId}: ${j.row.reason}`).join("; ");
  for (const list of [row.clientHosts, row.seenBy, row.definedOn]) list.sort();
  if (watchedSince !== undefined) row.watchedSince = watchedSince;
  for (const key of ["lastSeen", "lastUncertain", "lastFailed"] as const) {
    if (row[key] === undefined) delete row[key];
  }
  return row;
}

/**
 * Builds the fleet report from what the central store holds.
 *
 * @example
 * ```ts
 * const data = {
 *   servers: [{ serverId: "db1", cluster: "", pushedMs: 10, nameResolution: "off" as const,
 *     defined: [{ user: "app", host: "%" }] }],
 *   observations: new Map([["db1", {
 *     accounts: [{ user: "app", host: "10.0.0.1", logins: 2, lastLogin: 5, failed: 0 }],
 *     proxies: [], watched: [{ serverHost: "db1", firstEvent: 0, firstRun: 0 }], losses: [],
 *     runs: [{ startedMs: 9, errors: 0, auditFiles: 1 }],
 *   }]]),
 * };
 * const fleet = buildFleet(data, { now: 10, time: String });
 * fleet.rows[0].status; // "used"
 * ```
 */
export function buildFleet(data: FleetData, options: FleetOptions): Fleet {
  const groups = new Map<string, ServerInfo[]>();
  for (const s of data.servers) groups.set(s.cluster, [...groups.get(s.cluster) ?? [], s]);
  const rows: FleetRow[] = [];
  const unmatched: FleetUnmatched[] = [];
  for (const [cluster, servers] of groups) {
    const shared = groupAccounts(servers);
    const byAccount = new Map<string, Judged[]>();
    for (const server of servers) {
      const report = judge(server, data, server.defined ?? shared, options);
      for (const u of report.unmatched) {
        unmatched.push({ ...u, serverId: server.serverId, cluster });
      }
      for (const row of report.rows) {
        const key = accountKey(row.name, row.host);
        const list = byAccount.get(key) ?? [];
        list.push({ server, row, watchedSince: report.watchedSince });
        byAccount.set(key, list);
      }
    }
    for (const judged of byAccount.values()) {
      // A server without an account list could hold any account: it has its say on each.
      for (const server of servers) {
        if (server.defined || judged.some((j) => j.server === server)) continue;
        const { name, host } = judged[0].row;
        judged.push(unseen(server, data, { name, host }, options));
      }
      rows.push(merge(cluster, judged));
    }
  }
  return { rows, unmatched };
}
