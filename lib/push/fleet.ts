/**
 * Building the fleet report: per group (a Galera cluster, or all servers on
 * their own), each server's observations given to the accounts it defines
 * (by the same rules as a local report: `buildReport`), then merged per
 * account: the latest login over all servers, which servers saw it, which
 * define it, and a status.
 *
 * The servers that could hold an account are those that define it, and those
 * that pushed no account list (they could hold any). An account is `unused`
 * or `never-seen` only when every one of them watched the whole asked period
 * (its earliest event read before the period began) and pushed data from
 * within it; otherwise it is `unknown`, with the servers at fault in the
 * reason. A loss (audit data removed by rotation before it was read) written
 * in the period, on any of them, makes it `unknown` too (without a period:
 * any loss).
 *
 * @module
 */

import { type Account, accountKey } from "../format/account.ts";
import type { Observation } from "../store/report_reads.ts";
import { buildReport, type ReportRow } from "../report/build.ts";
import type { FleetData, ServerInfo } from "./fleet_reads.ts";

/** What the evidence says of an account. */
export type Status = "used" | "unused" | "never-seen" | "unknown";

/** One account of the fleet report. */
export interface FleetRow extends ReportRow {
  /** The Galera cluster, `""` for servers on their own. */
  cluster: string;
  status: Status;
  reason: string;
  /** Servers with a login of it, sorted. */
  seenBy: string[];
  /** Servers that define it, sorted. */
  definedOn: string[];
}

/** A logged `user@host` that matches no account its server defines. */
export interface FleetUnmatched extends Observation {
  serverId: string;
}

/** The fleet report's rows, and what could not be attributed. */
export interface Fleet {
  rows: FleetRow[];
  unmatched: FleetUnmatched[];
}

/** The asked period and its end. */
export interface FleetOptions {
  unusedForMs?: number;
  now: number;
  /** Formats an instant for a reason. */
  time: (ms: number) => string;
}

function later(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  return b === undefined || a > b ? a : b;
}

function union(into: string[], more: string[]): void {
  for (const x of more) if (!into.includes(x)) into.push(x);
}

/**
 * Why `server`'s data cannot decide for the period from `since` (`-Infinity`:
 * ever), or `undefined` if it can.
 */
function gap(server: ServerInfo, since: number, time: (ms: number) => string): string | undefined {
  const lost = server.losses.find((l) => l.toMs >= since);
  if (lost) {
    const from = lost.fromMs === undefined ? "an unknown time" : time(lost.fromMs);
    return `${server.serverId} lost audit data written from ${from} to ${time(lost.toMs)}`;
  }
  if (since === -Infinity) return undefined;
  if (server.watchedSinceMs === undefined || server.watchedSinceMs > since) {
    return server.watchedSinceMs === undefined
      ? `${server.serverId} has read no event yet`
      : `${server.serverId} watches only since ${time(server.watchedSinceMs)}`;
  }
  if (server.dataUntilMs === undefined || server.dataUntilMs < since) {
    return `${server.serverId} has pushed nothing newer than ${time(server.dataUntilMs ?? 0)}`;
  }
  return undefined;
}

function verdict(
  row: FleetRow,
  holders: ServerInfo[],
  options: FleetOptions,
): Pick<FleetRow, "status" | "reason"> {
  const since = options.unusedForMs === undefined ? undefined : options.now - options.unusedForMs;
  if (row.lastSeen !== undefined && (since === undefined || row.lastSeen >= since)) {
    return {
      status: "used",
      reason: `last login ${options.time(row.lastSeen)} on ${row.seenBy.join(", ")}`,
    };
  }
  const gaps = holders.map((s) => gap(s, since ?? -Infinity, options.time))
    .filter((g) => g !== undefined);
  if (gaps.length > 0) return { status: "unknown", reason: gaps.join("; ") };
  const watched = holders.map((s) => s.watchedSinceMs ?? options.now);
  const from = watched.length > 0 ? Math.max(...watched) : options.now;
  const servers = `${holders.length} server${holders.length === 1 ? "" : "s"}`;
  if (row.lastSeen !== undefined) {
    return {
      status: "unused",
      reason: `last login ${options.time(row.lastSeen)} on ${row.seenBy.join(", ")}; ` +
        `${servers} watching since ${options.time(from)}`,
    };
  }
  return {
    status: "never-seen",
    reason: `no login on ${servers} watching since ${options.time(from)}`,
  };
}

/**
 * Builds the fleet report from what the central store holds.
 *
 * @example
 * ```ts
 * const data = {
 *   servers: [{ serverId: "db1", cluster: "", pushedMs: 0, watchedSinceMs: 0, dataUntilMs: 9,
 *     losses: [], defined: [{ user: "app", host: "%" }] }],
 *   observations: new Map([["db1", {
 *     accounts: [{ user: "app", host: "10.0.0.1", logins: 2, lastLogin: 5, failed: 0 }],
 *     proxies: [],
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
    const withList = servers.filter((s) => s.defined !== undefined);
    const groupDefined: Account[] | undefined = withList.length === 0 ? undefined : [];
    const seen = new Set<string>();
    for (const s of withList) {
      for (const a of s.defined!) {
        const key = accountKey(a.user, a.host);
        if (!seen.has(key)) [seen.add(key), groupDefined!.push(a)];
      }
    }
    const merged = new Map<string, FleetRow>();
    for (const server of servers) {
      const observed = data.observations.get(server.serverId) ?? { accounts: [], proxies: [] };
      const built = buildReport(
        observed.accounts,
        observed.proxies,
        server.defined ?? groupDefined,
      );
      for (const o of built.unmatched) unmatched.push({ ...o, serverId: server.serverId });
      const own = server.defined && new Set(server.defined.map((a) => accountKey(a.user, a.host)));
      for (const r of built.rows) {
        const key = accountKey(r.name, r.host);
        const row = merged.get(key) ?? {
          ...r,
          logins: 0,
          failedAttempts: 0,
          lastSeen: undefined,
          lastFailed: undefined,
          clientHosts: [],
          cluster,
          status: "unknown",
          reason: "",
          seenBy: [],
          definedOn: [],
        };
        row.logins += r.logins;
        row.failedAttempts += r.failedAttempts;
        row.lastSeen = later(row.lastSeen, r.lastSeen);
        row.lastFailed = later(row.lastFailed, r.lastFailed);
        union(row.clientHosts, r.clientHosts);
        if (r.logins > 0 || r.lastSeen !== undefined) row.seenBy.push(server.serverId);
        if (own?.has(key)) row.definedOn.push(server.serverId);
        merged.set(key, row);
      }
    }
    for (const row of merged.values()) {
      const holders = servers.filter((s) =>
        s.defined === undefined || row.definedOn.includes(s.serverId)
      );
      row.clientHosts.sort();
      row.seenBy.sort();
      row.definedOn.sort();
      Object.assign(row, verdict(row, holders, options));
      if (row.lastSeen === undefined) delete row.lastSeen;
      if (row.lastFailed === undefined) delete row.lastFailed;
      rows.push(row);
    }
  }
  return { rows, unmatched };
}
