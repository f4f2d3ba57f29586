/**
 * The unused-accounts report: observed logins attributed to the accounts
 * MariaDB defines, filtered, sorted and printed as a table, JSON or CSV.
 *
 * @module
 */

import type { ProxyActivity } from "../track/aggregate.ts";
import { type Account, accountName, indexAccounts, matchAccount } from "./accounts.ts";
import type { Observation } from "../store/schema.ts";

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

/** A duration text that is not `<n>d`, `<n>w`, `<n>m` or `<n>y`. */
export class DurationError extends Error {
  /** Creates the error. */
  constructor(text: string) {
    super(`Invalid duration "${text}": expected a number and d, w, m or y (e.g. 90d, 12w, 6m, 1y)`);
    this.name = "DurationError";
  }
}

const UNIT_DAYS: Record<string, number> = { d: 1, w: 7, m: 30, y: 365 };

/**
 * Parses `90d`, `12w`, `6m` (30 days each) or `1y` (365 days) into milliseconds.
 *
 * @example
 * ```ts
 * parseDuration("90d"); // 7776000000
 * parseDuration("12w") === parseDuration("84d"); // true
 * ```
 * @throws {DurationError} on anything else.
 */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+)\s*([dwmy])\s*$/i.exec(text);
  if (!m) throw new DurationError(text);
  return Number(m[1]) * UNIT_DAYS[m[2].toLowerCase()] * 86_400_000;
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
    const key = `${name}\0${host}`;
    if (!rows.has(key) && !defined) rows.set(key, emptyRow(name, host));
    return rows.get(key);
  };
  for (const a of defined ?? []) rows.set(`${a.user}\0${a.host}`, emptyRow(a.user, a.host));
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

/** The output formats. */
export const FORMATS = ["table", "json", "csv"] as const;

/** An output format. */
export type Format = typeof FORMATS[number];

/** The fields of the JSON and CSV output, in order. */
export const FIELDS = [
  "name",
  "host",
  "last_seen",
  "logins",
  "last_failed",
  "failed_attempts",
  "client_hosts",
] as const;

function record(row: ReportRow, time: (ms: number) => string) {
  return {
    name: row.name,
    host: row.host,
    last_seen: row.lastSeen === undefined ? null : time(row.lastSeen),
    logins: row.logins,
    last_failed: row.lastFailed === undefined ? null : time(row.lastFailed),
    failed_attempts: row.failedAttempts,
    client_hosts: row.clientHosts,
  };
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * Prints rows. `time` formats an instant (ISO 8601 with the offset of
 * `TimeLocation`). JSON: an array of objects with {@link FIELDS}, `null` for
 * never. CSV: a header and one line per row, hosts separated by spaces.
 * Table: aligned columns, `never` for never.
 *
 * @example
 * ```ts
 * const row = { name: "app", host: "%", logins: 0, failedAttempts: 0, clientHosts: [] };
 * formatReport([row], "csv", (ms) => new Date(ms).toISOString());
 * // "name,host,last_seen,logins,last_failed,failed_attempts,client_hosts\napp,%,,0,,0,\n"
 * ```
 */
export function formatReport(
  rows: ReportRow[],
  format: Format,
  time: (ms: number) => string,
): string {
  const records = rows.map((r) => record(r, time));
  if (format === "json") return JSON.stringify(records, null, 2) + "\n";
  if (format === "csv") {
    const lines = records.map((r) =>
      FIELDS.map((f) => {
        const v = r[f];
        return csvField(v === null ? "" : Array.isArray(v) ? v.join(" ") : String(v));
      }).join(",")
    );
    return [FIELDS.join(","), ...lines].map((l) => l + "\n").join("");
  }
  const table = [
    ["ACCOUNT", "LAST SEEN", "LOGINS", "FAILED", "LAST FAILED", "CLIENT HOSTS"],
    ...records.map((r) => [
      accountName({ user: r.name, host: r.host }),
      r.last_seen ?? "never",
      String(r.logins),
      String(r.failed_attempts),
      r.last_failed ?? "-",
      r.client_hosts.join(" ") || "-",
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => [...r[i]].length)));
  return table.map((r) =>
    r.map((cell, i) =>
      i === r.length - 1 ? cell : cell.padEnd(widths[i] + cell.length - [...cell].length)
    )
      .join("  ")
  ).join("\n") + "\n";
}
