/**
 * Building the unused-accounts report: observed logins given to the accounts
 * MariaDB defines (when the logged host tells which), each account judged,
 * then filtered and sorted. Everything here is pure: the I/O (database,
 * server, resolver) happens in `command.ts`.
 *
 * @module
 */

import { type Account, accountKey, formatAccountName } from "../format/account.ts";
import type { LostRange, Observation, RunRecord, Watched } from "../store/report_reads.ts";
import type { ProxyActivity } from "../track/aggregate.ts";
import { indexAccounts } from "./accounts.ts";
import { candidateAccounts, type Choice, type Resolution } from "./candidates.ts";
import { readHistory, sumUnattributed, type UnattributedSum } from "../store/read_history.ts";
import { type Doubt, type Status, verdict } from "./verdict.ts";

/** One account in a report. Times are epoch milliseconds. */
export interface ReportRow {
  name: string;
  host: string;
  status: Status;
  reason: string;
  /** The last login certainly of this account, over all its client hosts; `undefined`: none. */
  lastSeen?: number;
  /** Logins certainly of this account. */
  logins: number;
  /** Logins that may have been this account's (see `doubts`). */
  uncertainLogins: number;
  lastUncertain?: number;
  lastFailed?: number;
  /** Failed attempts; one whose account is uncertain counts for every candidate. */
  failedAttempts: number;
  /** The client hosts its certain logins and its attempts came from, sorted. */
  clientHosts: string[];
  doubts: Doubt[];
}

/** A logged `user@host` whose logins or attempts no defined account takes. */
export interface Unmatched extends Omit<Observation, "unreadableLastSeen"> {
  why: string;
}

/** A report: the rows, what no row takes, and the window they were judged in. */
export interface Report {
  rows: ReportRow[];
  unmatched: Unmatched[];
  /** Since when every server host has been watched. */
  watchedSince?: number;
  /** When the audit log was last read successfully (a run's start); `undefined`: never. */
  readUntil?: number;
  /** The sign-ins no account could be given that may lie in the period (without one: ever). */
  unattributed: UnattributedSum;
}

/** The account the report itself logged in as, and as whom the log shows that login. */
export interface SelfLogin {
  /** `CURRENT_USER()`, as a defined account. */
  account: Account;
  /** `USER()`: the user it sent and the host the server saw (as the log writes them). */
  client: Account;
  /** Who logged in so, in the reasons (default: "the report itself"; a push says "the push"). */
  who?: string;
}

/** Everything {@link buildReport} judges. */
export interface ReportInput {
  observed: Observation[];
  proxies: ProxyActivity[];
  /** The accounts MariaDB defines; without them, one row per logged `user@host`. */
  defined?: Account[];
  resolution: Resolution;
  watched: Watched[];
  losses: LostRange[];
  /** The runs: which read the audit log successfully, what they could not attribute. */
  runs: RunRecord[];
  /** The end of the period, epoch milliseconds. */
  now: number;
  /** `--unused-for`; without it, `used` means a login was ever recorded. */
  periodMs?: number;
  self?: SelfLogin;
  /** Formats an instant in the reasons. */
  time: (ms: number) => string;
}

/** A row before its verdict. */
type Draft = Omit<ReportRow, "status" | "reason">;

function emptyRow(name: string, host: string): Draft {
  return {
    name,
    host,
    logins: 0,
    uncertainLogins: 0,
    failedAttempts: 0,
    clientHosts: [],
    doubts: [],
  };
}

function later(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  return b === undefined || a > b ? a : b;
}

function addLogins(row: Draft, logins: number, last: number | undefined, from: string): void {
  row.logins += logins;
  row.lastSeen = later(row.lastSeen, last);
  if (!row.clientHosts.includes(from)) row.clientHosts.push(from);
}

function addDoubt(row: Draft, doubt: Doubt): void {
  row.doubts.push(doubt);
  row.uncertainLogins += doubt.logins;
  row.lastUncertain = later(row.lastUncertain, doubt.lastLogin);
}

const same = (a: Account, b: Account) => a.user === b.user && a.host === b.host;

/** The report's words for the accounts a logged `user@host` may have been, but `account`. */
function otherCandidates(choice: Choice, account: Account): string {
  return choice.accounts.filter((a) => !same(a, account)).map(formatAccountName).join(", ");
}

/**
 * The latest watch start over the server hosts (each has been watched since
 * then), or `undefined` when nothing has been read.
 *
 * @example
 * ```ts
 * watchStart([{ serverHost: "a", firstEvent: 5, firstRun: 9 }, { serverHost: "b", firstEvent: 7, firstRun: 9 }]); // 7
 * ```
 */
export function watchStart(watched: Watched[]): number | undefined {
  return watched.length === 0 ? undefined : Math.max(...watched.map((w) => w.firstEvent));
}

/**
 * Builds and judges the rows. With `defined` accounts: one row per defined
 * account; each logged `user@host` goes to the account MariaDB chose for it
 * when every client it can stand for gives the same one, else it is a doubt
 * on each candidate; a `PROXY_CONNECT` goes to the account it names. Without
 * `defined`: one row per logged `user@host`. Logins and attempts no account
 * takes, and failed attempts with an empty user, are `unmatched`. The
 * report's own login (`self`) is a doubt, never the evidence of use.
 *
 * @example
 * ```ts
 * const report = buildReport({
 *   observed: [{ user: "app", host: "10.0.0.7", logins: 3, lastLogin: 1000, failed: 0 }],
 *   proxies: [],
 *   defined: [{ user: "app", host: "10.0.0.%" }, { user: "old", host: "%" }],
 *   resolution: { mode: "off", addresses: new Map() },
 *   watched: [{ serverHost: "vm", firstEvent: 500, firstRun: 2000 }],
 *   losses: [],
 *   runs: [{ startedMs: 2000, auditFiles: 1, errors: 0 }],
 *   now: 3000,
 *   time: (ms) => String(ms),
 * });
 * report.rows.map((r) => [r.name, r.status]); // [["app", "used"], ["old", "never-seen"]]
 * ```
 */
export function buildReport(input: ReportInput): Report {
  const { defined, self } = input;
  const rows = new Map<string, Draft>();
  const unmatched: Unmatched[] = [];
  const rowOf = (a: Account): Draft | undefined => {
    const key = accountKey(a.user, a.host);
    if (!rows.has(key) && !defined) rows.set(key, emptyRow(a.user, a.host));
    return rows.get(key);
  };
  for (const a of defined ?? []) rows.set(accountKey(a.user, a.host), emptyRow(a.user, a.host));
  const index = defined && indexAccounts(defined);
  for (const o of input.observed) {
    const choice: Choice = index
      ? candidateAccounts(index, o.user, o.host, input.resolution)
      : { accounts: [{ user: o.user, host: o.host }], none: false };
    const lost: Unmatched = { user: o.user, host: o.host, logins: 0, failed: 0, why: "" };
    const noAccount = "no defined account matches";
    if (o.logins > 0 || o.lastLogin !== undefined) {
      const [only] = choice.accounts;
      const own = self && choice.accounts.length === 1 && same(only, self.account) &&
        same(o, self.client);
      if (choice.accounts.length === 0) {
        Object.assign(lost, { logins: o.logins, lastLogin: o.lastLogin, why: noAccount });
      } else if (choice.accounts.length === 1 && !own) {
        addLogins(rowOf(only)!, o.logins, o.lastLogin, o.host);
      } else if (own) {
        addDoubt(rowOf(only)!, {
          logins: o.logins,
          lastLogin: o.lastLogin,
          why: `from ${o.user}@${o.host}, as ${
            self.who ?? "the report itself"
          } logs in: they may be its own`,
        });
      } else {
        for (const a of choice.accounts) {
          addDoubt(rowOf(a)!, {
            logins: o.logins,
            lastLogin: o.lastLogin,
            why: `from ${o.user}@${o.host} may be this account or ${
              otherCandidates(choice, a)
            } (${choice.why})`,
          });
        }
      }
    }
    for (const text of o.unreadableLastSeen ?? []) {
      // The old tool saw a login, when is not known: a doubt in any period on every candidate.
      const why = `the old tool saw ${o.user}@${o.host} log in; its last_seen ${
        JSON.stringify(text)
      } cannot be read`;
      if (choice.accounts.length === 0) lost.why ||= noAccount;
      for (const a of choice.accounts) addDoubt(rowOf(a)!, { logins: 0, why });
    }
    if (o.failed > 0) {
      const targets = o.user === "" ? [] : choice.accounts;
      if (targets.length === 0) {
        lost.failed = o.failed;
        lost.lastFailed = o.lastFailed;
        lost.why ||= o.user === ""
          ? "empty user: the client closed before logging in (a health check or a port scan)"
          : noAccount;
      }
      for (const a of targets) {
        const row = rowOf(a)!;
        row.failedAttempts += o.failed;
        row.lastFailed = later(row.lastFailed, o.lastFailed);
        if (!row.clientHosts.includes(o.host)) row.clientHosts.push(o.host);
      }
    }
    if (lost.why) unmatched.push(lost);
  }
  for (const p of input.proxies) {
    const row = rowOf({ user: p.proxiedUser, host: p.proxiedHost });
    if (row) addLogins(row, p.logins, p.lastLogin, p.host);
    else {
      unmatched.push({
        user: p.proxiedUser,
        host: p.proxiedHost,
        logins: p.logins,
        lastLogin: p.lastLogin,
        failed: 0,
        why: `proxied from ${p.user}@${p.host} (PROXY_CONNECT) to an account not listed`,
      });
    }
  }
  const selfRow = self && rowOf(self.account);
  if (selfRow) {
    // No time and no count: it is in any period, and it does not add to the logins read.
    addDoubt(selfRow, {
      logins: 0,
      why: `${
        self.who ?? "the report itself"
      } logged in as this account (CURRENT_USER()) to list the accounts`,
    });
  }
  const watchedSince = watchStart(input.watched);
  const reads = readHistory(input.runs);
  const ctx = { ...input, watchedSince, reads };
  const judged = [...rows.values()].map((row): ReportRow => {
    row.clientHosts.sort();
    return { ...row, ...verdict(row, ctx) };
  });
  const since = input.periodMs === undefined ? undefined : input.now - input.periodMs;
  return {
    rows: judged,
    unmatched,
    watchedSince,
    readUntil: reads.lastRead,
    unattributed: sumUnattributed(reads.unattributed, since),
  };
}

/** Which rows a report keeps. */
export interface ReportFilter {
  /** Keep only the rows that are not `used` (`--unused-for`: `periodMs` is set). */
  periodMs?: number;
  /** Keep only rows that are not `used`, with a failed attempt (in the period). */
  failed?: boolean;
  now: number;
}

/**
 * Filters judged rows. With a period (`--unused-for`), the rows that are not
 * `used`. `failed` keeps the rows that are not `used` with a failed attempt
 * (in the period, if one is given): someone is trying a dormant account.
 *
 * @example
 * ```ts
 * const row = {
 *   name: "a", host: "%", status: "never-seen" as const, reason: "", logins: 0,
 *   uncertainLogins: 0, failedAttempts: 0, clientHosts: [], doubts: [],
 * };
 * filterRows([row], { periodMs: 86_400_000, now: Date.now() }).length; // 1
 * ```
 */
export function filterRows(rows: ReportRow[], filter: ReportFilter): ReportRow[] {
  const since = filter.periodMs === undefined ? undefined : filter.now - filter.periodMs;
  return rows.filter((r) => {
    if ((since !== undefined || filter.failed) && r.status === "used") return false;
    if (!filter.failed) return true;
    return r.failedAttempts > 0 &&
      (since === undefined || (r.lastFailed !== undefined && r.lastFailed >= since));
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
 * const base = {
 *   status: "used" as const, reason: "", uncertainLogins: 0, failedAttempts: 0,
 *   clientHosts: [], doubts: [],
 * };
 * const a = { ...base, name: "a", host: "%", lastSeen: 5, logins: 1 };
 * const b = { ...base, name: "b", host: "%", logins: 0 };
 * sortRows([a, b], "last_seen").map((r) => r.name); // ["b", "a"]
 * ```
 */
export function sortRows(rows: ReportRow[], key: SortKey): ReportRow[] {
  const value = (r: ReportRow) =>
    key === "last_seen" ? (r.lastSeen ?? -Infinity) : key === "logins" ? r.logins : 0;
  return [...rows].sort((a, b) => value(a) - value(b) || byName(a, b));
}
