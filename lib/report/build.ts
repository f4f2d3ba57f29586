/**
 * Building the unused-accounts report: observed logins attributed to the
 * accounts MariaDB defines, then filtered and sorted.
 *
 * @module
 */

import { type Account, accountKey } from "../format/account.ts";
import type { Observation } from "../store/report_reads.ts";
import type { ProxyActivity } from "../track/aggregate.ts";
import { indexAccounts, matchAccount } from "./accounts.ts";

/** One account in a report. Times are epoch milliseconds. */
export interface ReportRow {
  name: string;
  host: string;
  /** The last successful login, over all its client hosts; `undefined` when never seen. */
  lastSeen?: number;
  logins: number;
  lastFailed?: number;
  failedAttempts: number;
  /** The client hosts its logins and attempts came from, sorted. */
  clientHosts: string[];
}

/** A report, and what could not be attributed to a defined account. */
export interface Report {
  rows: ReportRow[];
  /** Logged `user@host`s that match no defined account (failed attempts of unknown users, dropped accounts). */
  unmatched: Observation[];
}

function emptyRow(name: string, host: string): ReportRow {
  return { name, host, logins: 0, failedAttempts: 0, clientHosts: [] };
}

function later(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  return b === undefined || a > b ? a : b;
}

function addLogins(row: ReportRow, logins: number, last: number | undefined, from: string): void {
  row.logins += logins;
  row.lastSeen = later(row.lastSeen, last);
  if (!row.clientHosts.includes(from)) row.clientHosts.push(from);
}

/**
 * Builds the rows: with `defined` accounts, one row per defined account, each
 * observed `user@host` attributed to the account MariaDB chooses for it, a
 * `PROXY_CONNECT` to the account it names; without, one row per observed
 * `user@host`.
 *
 * @example
 * ```ts
 * const report = buildReport(
 *   [{ user: "app", host: "10.0.0.7", logins: 3, lastLogin: 1000, failed: 0 }],
 *   [],
 *   [{ user: "app", host: "10.0.0.%" }, { user: "old", host: "%" }],
 * );
 * report.rows.map((r) => [r.name, r.host, r.logins]); // [["app", "10.0.0.%", 3], ["old", "%", 0]]
 * ```
 */
export function buildReport(
  observed: Observation[],
  proxies: ProxyActivity[],
  defined?: Account[],
): Report {
  const rows = new Map<string, ReportRow>();
  const unmatched: Observation[] = [];
  const rowOf = (name: string, host: string): ReportRow | undefined => {
    const key = accountKey(name, host);
    if (!rows.has(key) && !defined) rows.set(key, emptyRow(name, host));
    return rows.get(key);
  };
  for (const a of defined ?? []) rows.set(accountKey(a.user, a.host), emptyRow(a.user, a.host));
  const index = defined && indexAccounts(defined);
  for (const o of observed) {
    const account = index ? matchAccount(index, o.user, o.host) : { user: o.user, host: o.host };
    const row = account && rowOf(account.user, account.host);
    if (!row) {
      unmatched.push(o);
      continue;
    }
    addLogins(row, o.logins, o.lastLogin, o.host);
    row.failedAttempts += o.failed;
    row.lastFailed = later(row.lastFailed, o.lastFailed);
  }
  for (const p of proxies) {
    const row = rowOf(p.proxiedUser, p.proxiedHost);
    if (row) addLogins(row, p.logins, p.lastLogin, p.host);
  }
  for (const row of rows.values()) row.clientHosts.sort();
  return { rows: [...rows.values()], unmatched };
}

/** Which rows a report keeps. */
export interface ReportFilter {
  /** Keep only accounts without a successful login in this period (ms before `now`). */
  unusedForMs?: number;
  /** Keep only accounts with failed attempts (in the period) and no success in it. */
  failed?: boolean;
  now: number;
}

/**
 * Filters rows. `unusedForMs` keeps accounts with no successful login since
 * `now - unusedForMs` (never-seen ones included). `failed` keeps accounts
 * with a failed attempt and no success in that period (without a period:
 * with failed attempts and no success ever recorded).
 *
 * @example
 * ```ts
 * const rows = [{ name: "a", host: "%", logins: 0, failedAttempts: 0, clientHosts: [] }];
 * filterRows(rows, { unusedForMs: 86_400_000, now: Date.now() }).length; // 1
 * ```
 */
export function filterRows(rows: ReportRow[], filter: ReportFilter): ReportRow[] {
  const since = filter.unusedForMs === undefined ? undefined : filter.now - filter.unusedForMs;
  const unusedSince = (r: ReportRow) =>
    r.lastSeen === undefined || (since !== undefined && r.lastSeen < since);
  return rows.filter((r) => {
    if (since !== undefined && !unusedSince(r)) return false;
    if (!filter.failed) return true;
    if (r.failedAttempts === 0 || !unusedSince(r)) return false;
    return since === undefined || (r.lastFailed !== undefined && r.lastFailed >= since);
  });
}

/** The orders a report can be sorted in. */
export const SORT_KEYS = ["last_seen", "name", "logins"] as const;

/** A sort order. */
export type SortKey = typeof SORT_KEYS[number];

function byName(a: ReportRow, b: ReportRow): number {
  return a.name < b.name
    ? -1
    : a.name > b.name
    ? 1
    : a.host < b.host
    ? -1
    : a.host > b.host
    ? 1
    : 0;
}

/**
 * Sorts rows: `last_seen` oldest first (never-seen first), `name` by name
 * then host, `logins` fewest first; ties by name.
 *
 * @example
 * ```ts
 * const a = { name: "a", host: "%", lastSeen: 5, logins: 1, failedAttempts: 0, clientHosts: [] };
 * const b = { name: "b", host: "%", logins: 0, failedAttempts: 0, clientHosts: [] };
 * sortRows([a, b], "last_seen").map((r) => r.name); // ["b", "a"]
 * ```
 */
export function sortRows(rows: ReportRow[], key: SortKey): ReportRow[] {
  const value = (r: ReportRow) =>
    key === "last_seen" ? (r.lastSeen ?? -Infinity) : key === "logins" ? r.logins : 0;
  return [...rows].sort((a, b) => value(a) - value(b) || byName(a, b));
}
