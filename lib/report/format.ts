/**
 * Printing a report: an aligned table for a terminal, JSON or CSV for
 * programs, SQL for the next step (`sql.ts`). A new output goes here.
 *
 * @module
 */

import { type Account, formatAccountName } from "../format/account.ts";
import type { Report, ReportRow, Unmatched } from "./build.ts";
import type { NameResolution } from "./candidates.ts";
import { formatSql } from "./sql.ts";
import { unattributedWords } from "./verdict.ts";

/** The output formats. */
export const FORMATS = ["table", "json", "csv", "sql"] as const;

/** An output format. */
export type Format = typeof FORMATS[number];

/** What a report was made from, printed with it. Times are epoch milliseconds. */
export interface ReportMeta {
  now: number;
  /** `--unused-for` as given (`90d`), and its length. */
  period?: { text: string; ms: number };
  /** Where the accounts came from. */
  accountsFrom: "server" | "file" | "log";
  /** `CURRENT_USER()` of the report's own login (`--accounts-from-server`). */
  connectedAs?: Account;
  nameResolution: NameResolution;
}

/** The fields of a JSON account (and the CSV columns, in order). */
export const FIELDS = [
  "name",
  "host",
  "status",
  "reason",
  "last_seen",
  "logins",
  "uncertain_logins",
  "last_uncertain_login",
  "last_failed",
  "failed_attempts",
  "client_hosts",
  "watched_since",
] as const;

/** Formats an instant (epoch milliseconds) for the output. */
export type Time = (ms: number) => string;

function optional(ms: number | undefined, time: Time): string | null {
  return ms === undefined ? null : time(ms);
}

/**
 * One account as JSON and CSV print it (the fleet report adds its own fields).
 *
 * @example
 * ```ts
 * const row = {
 *   name: "app", host: "%", status: "never-seen" as const, reason: "no login since 0",
 *   logins: 0, uncertainLogins: 0, failedAttempts: 0, clientHosts: [], doubts: [],
 * };
 * accountRecord(row, null, String).last_seen; // null
 * ```
 */
export function accountRecord(row: ReportRow, watchedSince: string | null, time: Time) {
  return {
    name: row.name,
    host: row.host,
    status: row.status,
    reason: row.reason,
    last_seen: optional(row.lastSeen, time),
    logins: row.logins,
    uncertain_logins: row.uncertainLogins,
    last_uncertain_login: optional(row.lastUncertain, time),
    last_failed: optional(row.lastFailed, time),
    failed_attempts: row.failedAttempts,
    client_hosts: row.clientHosts,
    watched_since: watchedSince,
  };
}

/**
 * One unmatched logged `user@host` as JSON prints it.
 *
 * @example
 * ```ts
 * unmatchedRecord({ user: "x", host: "h", logins: 0, failed: 2, why: "no account" }, String).name;
 * // "x"
 * ```
 */
export function unmatchedRecord(u: Unmatched, time: Time) {
  return {
    name: u.user,
    host: u.host,
    logins: u.logins,
    last_login: optional(u.lastLogin, time),
    failed_attempts: u.failed,
    last_failed: optional(u.lastFailed, time),
    reason: u.why,
  };
}

/**
 * A CSV field, quoted when it must be.
 *
 * @example
 * ```ts
 * csvField('a,"b"'); // '"a,""b"""'
 * ```
 */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * A CSV cell of a record's value: empty for none, lists separated by spaces.
 *
 * @example
 * ```ts
 * csvCell(["10.0.0.1", "localhost"]); // "10.0.0.1 localhost"
 * csvCell(null); // ""
 * ```
 */
function csvCell(value: unknown): string {
  return csvField(
    value === null || value === undefined
      ? ""
      : Array.isArray(value)
      ? value.join(" ")
      : String(value),
  );
}

/**
 * CSV: a header of `fields`, one line per account, then one per unmatched
 * `user@host` with status `unmatched` (its last login as `last_seen`, its host
 * as its one client host, and what `extra` gives for the fields only accounts have).
 *
 * @example
 * ```ts
 * csvDocument(["name", "status"], [{ name: "app", status: "used" }], [], () => ({}));
 * // "name,status\napp,used\n"
 * ```
 */
export function csvDocument(
  fields: readonly string[],
  accounts: Record<string, unknown>[],
  unmatched: Record<string, unknown>[],
  extra: (unmatched: Record<string, unknown>) => Record<string, unknown>,
): string {
  const line = (r: Record<string, unknown>) => fields.map((f) => csvCell(r[f])).join(",");
  const lines = [
    ...accounts.map(line),
    ...unmatched.map((u) =>
      line({
        ...u,
        status: "unmatched",
        last_seen: u.last_login,
        uncertain_logins: 0,
        client_hosts: [u.host],
        ...extra(u),
      })
    ),
  ];
  return [fields.join(","), ...lines].map((l) => l + "\n").join("");
}

/**
 * Aligned columns, two spaces apart; the last column is not padded.
 *
 * @example
 * ```ts
 * columns([["A", "B"], ["long", "x"]]); // "A     B\nlong  x\n"
 * ```
 */
export function columns(table: string[][]): string {
  const width = (s: string) => [...s].length;
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => width(r[i]))));
  return table.map((r) =>
    r.map((cell, i) => i === r.length - 1 ? cell : cell + " ".repeat(widths[i] - width(cell)))
      .join("  ")
  ).join("\n") + "\n";
}

/** The table's first line: what the report covers. */
function header(report: Report, meta: ReportMeta, time: Time): string {
  const parts = [`conntracker report at ${time(meta.now)}`];
  if (meta.period) {
    parts.push(
      `unused for ${meta.period.text} (since ${time(meta.now - meta.period.ms)})`,
    );
  }
  parts.push(
    report.watchedSince === undefined
      ? "nothing read yet"
      : `watched since ${time(report.watchedSince)}`,
  );
  parts.push(
    report.readUntil === undefined
      ? "the audit log not read successfully yet"
      : `audit log read up to ${time(report.readUntil)}`,
  );
  const unattributed = unattributedWords(report.unattributed);
  if (unattributed) parts.push(`${unattributed}${meta.period ? " in the period" : ""}`);
  if (meta.accountsFrom === "server") {
    const as = meta.connectedAs ? formatAccountName(meta.connectedAs) : "an unlisted account";
    parts.push(`accounts from the server, connected as ${as}`);
  } else if (meta.accountsFrom === "file") parts.push("accounts from the list given");
  else parts.push("one row per logged user@host");
  parts.push(`name resolution ${meta.nameResolution}`);
  return parts.join(", ") + "\n";
}

/**
 * Prints a report. `time` formats an instant (ISO 8601 with the offset of
 * `TimeLocation`).
 *
 * - JSON: an object with the metadata (`now`, `period`, `period_start`,
 *   `watched_since`, `read_until`, `unattributed_sign_ins`, `accounts_from`,
 *   `connected_as`, `name_resolution`), the
 *   `accounts` (objects with {@link FIELDS}, `null` for never) and the
 *   `unmatched` logged `user@host`s.
 * - CSV: a header and one line per account, then one per unmatched
 *   `user@host` with status `unmatched`; hosts separated by spaces.
 * - Table: a line saying what the report covers, the accounts, and the
 *   unmatched ones in a second table.
 * - SQL: see `sql.ts`.
 *
 * @example
 * ```ts
 * const report = {
 *   rows: [], unmatched: [], watchedSince: 0, unattributed: { changeUsers: 0, badTimestamps: 0 },
 * };
 * const meta = { now: 0, accountsFrom: "log" as const, nameResolution: "unknown" as const };
 * formatReport(report, meta, "csv", (ms) => new Date(ms).toISOString());
 * // "name,host,status,reason,last_seen,logins,uncertain_logins,last_uncertain_login,..."
 * ```
 */
export function formatReport(report: Report, meta: ReportMeta, format: Format, time: Time): string {
  if (format === "sql") return formatSql(report, meta, time);
  const watchedSince = optional(report.watchedSince, time);
  const accounts = report.rows.map((r) => accountRecord(r, watchedSince, time));
  const unmatched = report.unmatched.map((u) => unmatchedRecord(u, time));
  if (format === "json") {
    const document = {
      now: time(meta.now),
      period: meta.period?.text ?? null,
      period_start: meta.period ? time(meta.now - meta.period.ms) : null,
      watched_since: watchedSince,
      read_until: optional(report.readUntil, time),
      unattributed_sign_ins: {
        change_users: report.unattributed.changeUsers,
        bad_timestamps: report.unattributed.badTimestamps,
      },
      accounts_from: meta.accountsFrom,
      connected_as: meta.connectedAs
        ? { name: meta.connectedAs.user, host: meta.connectedAs.host }
        : null,
      name_resolution: meta.nameResolution,
      accounts,
      unmatched,
    };
    return JSON.stringify(document, null, 2) + "\n";
  }
  if (format === "csv") {
    return csvDocument(FIELDS, accounts, unmatched, () => ({ watched_since: watchedSince }));
  }
  const table = columns([
    ["ACCOUNT", "STATUS", "LAST SEEN", "LOGINS", "FAILED", "LAST FAILED", "CLIENT HOSTS", "REASON"],
    ...accounts.map((r) => [
      formatAccountName({ user: r.name, host: r.host }),
      r.status,
      r.last_seen ?? "never",
      r.uncertain_logins > 0 ? `${r.logins}+${r.uncertain_logins}?` : String(r.logins),
      String(r.failed_attempts),
      r.last_failed ?? "-",
      r.client_hosts.join(" ") || "-",
      r.reason,
    ]),
  ]);
  const out = header(report, meta, time) + "\n" + table;
  if (unmatched.length === 0) return out;
  return out + "\nLogged user@host that no defined account takes:\n" + columns([
    ["LOGGED AS", "LOGINS", "LAST LOGIN", "FAILED", "LAST FAILED", "REASON"],
    ...unmatched.map((u) => [
      `${u.name}@${u.host}`,
      String(u.logins),
      u.last_login ?? "-",
      String(u.failed_attempts),
      u.last_failed ?? "-",
      u.reason,
    ]),
  ]);
}
