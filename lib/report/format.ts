/**
 * Printing a report: an aligned table for a terminal, JSON or CSV for
 * programs. A new output goes here.
 *
 * @module
 */

import { formatAccountName } from "../format/account.ts";
import type { ReportRow } from "./build.ts";

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
      formatAccountName({ user: r.name, host: r.host }),
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
