/**
 * Printing the fleet report: the local report's columns, and per account its
 * cluster, status and reason, the servers that saw it and those that define
 * it. Table for a terminal, JSON or CSV for programs.
 *
 * @module
 */

import { formatAccountName } from "../format/account.ts";
import type { Format } from "../report/format.ts";
import type { FleetRow } from "./fleet.ts";

/** The fields of the JSON and CSV output, in order. */
export const FLEET_FIELDS = [
  "cluster",
  "name",
  "host",
  "status",
  "last_seen",
  "logins",
  "last_failed",
  "failed_attempts",
  "client_hosts",
  "seen_by",
  "defined_on",
  "reason",
] as const;

function record(row: FleetRow, time: (ms: number) => string) {
  return {
    cluster: row.cluster,
    name: row.name,
    host: row.host,
    status: row.status,
    last_seen: row.lastSeen === undefined ? null : time(row.lastSeen),
    logins: row.logins,
    last_failed: row.lastFailed === undefined ? null : time(row.lastFailed),
    failed_attempts: row.failedAttempts,
    client_hosts: row.clientHosts,
    seen_by: row.seenBy,
    defined_on: row.definedOn,
    reason: row.reason,
  };
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * Prints fleet rows. JSON: an array of objects with {@link FLEET_FIELDS}
 * (`null` for never). CSV: a header and one line per row, lists separated
 * by spaces. Table: aligned columns, `-` for no cluster, `never` for never.
 *
 * @example
 * ```ts
 * const row = {
 *   cluster: "", name: "app", host: "%", status: "never-seen" as const, reason: "no login",
 *   logins: 0, failedAttempts: 0, clientHosts: [], seenBy: [], definedOn: ["db1"],
 * };
 * formatFleet([row], "csv", (ms) => new Date(ms).toISOString()).split("\n")[1];
 * // ",app,%,never-seen,,0,,0,,,db1,no login"
 * ```
 */
export function formatFleet(
  rows: FleetRow[],
  format: Format,
  time: (ms: number) => string,
): string {
  const records = rows.map((r) => record(r, time));
  if (format === "json") return JSON.stringify(records, null, 2) + "\n";
  if (format === "csv") {
    const lines = records.map((r) =>
      FLEET_FIELDS.map((f) => {
        const v = r[f];
        return csvField(v === null ? "" : Array.isArray(v) ? v.join(" ") : String(v));
      }).join(",")
    );
    return [FLEET_FIELDS.join(","), ...lines].map((l) => l + "\n").join("");
  }
  const table = [
    [
      "CLUSTER",
      "ACCOUNT",
      "STATUS",
      "LAST SEEN",
      "LOGINS",
      "FAILED",
      "SEEN BY",
      "DEFINED ON",
      "REASON",
    ],
    ...records.map((r) => [
      r.cluster || "-",
      formatAccountName({ user: r.name, host: r.host }),
      r.status,
      r.last_seen ?? "never",
      String(r.logins),
      String(r.failed_attempts),
      r.seen_by.join(",") || "-",
      r.defined_on.join(",") || "-",
      r.reason,
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((r) => [...r[i]].length)));
  return table.map((r) =>
    r.map((cell, i) =>
      i === r.length - 1 ? cell : cell.padEnd(widths[i] + cell.length - [...cell].length)
    ).join("  ")
  ).join("\n") + "\n";
}
