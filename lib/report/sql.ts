/**
 * The report as a plan a DBA can apply with the `mariadb` client: `ALTER USER
 * … ACCOUNT LOCK` (reversible, MariaDB 10.4 and later) for the rows listed
 * that are `unused` or `never-seen`, then the same accounts' `DROP USER`
 * commented out. Never for `mariadb.sys` (MariaDB's own definer account) nor
 * for the account the report connects as, never for `used` or `unknown`
 * rows, nor for an account a server with `skip-name-resolve` ignores (a
 * host name: `ALTER USER` would fail, and the client stop there); with
 * name resolution unknown, those come last. Names are backtick identifiers (a backtick doubled), which MariaDB
 * reads back the same in every `sql_mode`; an empty name is `''`.
 *
 * @module
 */

import { type Account, formatAccountName } from "../format/account.ts";
import { hostRequiresResolving } from "./accounts.ts";
import type { Report, ReportRow } from "./build.ts";
import type { ReportMeta } from "./format.ts";

/** The user MariaDB owns (its views' definer), never locked. */
const MARIADB_SYS = "mariadb.sys";

/**
 * An account name as SQL: `` `user`@`host` `` with backticks doubled.
 *
 * @example
 * ```ts
 * sqlAccountName({ user: "o`k", host: "%" }); // "`o``k`@`%`"
 * sqlAccountName({ user: "", host: "localhost" }); // "''@`localhost`"
 * ```
 */
export function sqlAccountName(account: Account): string {
  const quote = (s: string) => s === "" ? "''" : "`" + s.replaceAll("`", "``") + "`";
  return `${quote(account.user)}@${quote(account.host)}`;
}

/** Text safe inside a `-- ` comment: control characters (line breaks) escaped. */
function commentText(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/** Why a row gets no statement, or `undefined` when it is locked. */
function keptBecause(row: ReportRow, meta: ReportMeta): string | undefined {
  if (row.name === MARIADB_SYS) return "MariaDB's own account";
  const self = meta.connectedAs;
  if (self && self.user === row.name && self.host === row.host) {
    return "the report connects as it";
  }
  if (row.status !== "unused" && row.status !== "never-seen") return row.status;
  if (meta.nameResolution === "off" && hostRequiresResolving(row.host)) {
    return "the server runs with skip-name-resolve and ignores it (ALTER USER would fail)";
  }
  return undefined;
}

/**
 * Prints the SQL plan for the rows of a report (already filtered).
 *
 * @example
 * ```ts
 * const row = {
 *   name: "old", host: "%", status: "never-seen" as const, reason: "no login since 2026-01-01",
 *   logins: 0, uncertainLogins: 0, failedAttempts: 0, clientHosts: [], doubts: [],
 * };
 * const meta = { now: 0, accountsFrom: "file" as const, nameResolution: "on" as const };
 * formatSql({ rows: [row], unmatched: [] }, meta, (ms) => new Date(ms).toISOString());
 * // includes "ALTER USER `old`@`%` ACCOUNT LOCK;" and "-- DROP USER `old`@`%`;"
 * ```
 */
export function formatSql(report: Report, meta: ReportMeta, time: (ms: number) => string): string {
  const lock = report.rows.filter((r) => keptBecause(r, meta) === undefined)
    .sort((a, b) => Number(hostRequiresResolving(a.host)) - Number(hostRequiresResolving(b.host)));
  const kept = report.rows.filter((r) => keptBecause(r, meta) !== undefined);
  const account = (r: ReportRow) => ({ user: r.name, host: r.host });
  const out = [
    `-- conntracker report at ${time(meta.now)}` +
    (meta.period ? `: no login for ${meta.period.text}` : "") +
    (report.watchedSince === undefined ? "" : `, watched since ${time(report.watchedSince)}`) +
    (meta.connectedAs ? `, connected as ${formatAccountName(meta.connectedAs)}` : ""),
    "-- Locks the accounts listed as unused or never-seen (undo: ALTER USER ... ACCOUNT UNLOCK).",
  ];
  const used = kept.filter((r) => r.status === "used" && keptBecause(r, meta) === "used");
  if (used.length > 0) out.push(`-- Not locked: ${used.length} used`);
  for (const r of kept.filter((r) => !used.includes(r))) {
    out.push(
      commentText(`-- Not locked: ${formatAccountName(account(r))}: ${keptBecause(r, meta)}`),
    );
  }
  if (lock.length === 0) return [...out, "-- Nothing to lock."].join("\n") + "\n";
  out.push("");
  for (const r of lock) {
    out.push(commentText(`-- ${formatAccountName(account(r))}: ${r.status}: ${r.reason}`));
    out.push(`ALTER USER ${sqlAccountName(account(r))} ACCOUNT LOCK;`);
  }
  out.push("", "-- Once nothing has broken for a while, drop them:");
  for (const r of lock) out.push(commentText(`-- DROP USER ${sqlAccountName(account(r))};`));
  return out.join("\n") + "\n";
}
