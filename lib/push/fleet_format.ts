/**
 * Printing the fleet report: per account the local report's fields (the
 * same records, `lib/report/format.ts`) with its cluster, the servers that
 * saw it and those that define it; the servers the central store knows;
 * and the logged `user@host`s no account takes, per server. Table for a
 * terminal, JSON or CSV for programs.
 *
 * @module
 */

import { formatAccountName } from "../format/account.ts";
import {
  accountRecord,
  columns,
  csvDocument,
  FIELDS,
  type Time,
  unmatchedRecord,
} from "../report/format.ts";
import type { Fleet, FleetRow } from "./fleet.ts";
import type { ServerInfo } from "./fleet_reads.ts";

/** The formats of the fleet report (the SQL plan is one server's). */
export const FLEET_FORMATS = ["table", "json", "csv"] as const;

/** A fleet report format. */
export type FleetFormat = typeof FLEET_FORMATS[number];

/** The CSV columns, in order: the local report's, between the cluster and the servers. */
export const FLEET_FIELDS = ["cluster", ...FIELDS, "seen_by", "defined_on"] as const;

/** What the fleet report covers. Times are epoch milliseconds. */
export interface FleetMeta {
  now: number;
  /** `--unused-for` as given, and its length. */
  period?: { text: string; ms: number };
  servers: ServerInfo[];
  /** When each server's data was read last (its latest run's start), by server id. */
  lastRuns: Map<string, number | undefined>;
}

function optional(ms: number | undefined, time: Time): string | null {
  return ms === undefined ? null : time(ms);
}

function record(row: FleetRow, time: Time) {
  return {
    cluster: row.cluster,
    ...accountRecord(row, optional(row.watchedSince, time), time),
    seen_by: row.seenBy,
    defined_on: row.definedOn,
  };
}

function header(meta: FleetMeta, time: Time): string {
  const parts = [`conntracker report --central at ${time(meta.now)}`];
  if (meta.period) {
    parts.push(`unused for ${meta.period.text} (since ${time(meta.now - meta.period.ms)})`);
  }
  const clusters = [...new Set(meta.servers.map((s) => s.cluster).filter((c) => c))];
  parts.push(
    `${meta.servers.length} servers` +
      (clusters.length > 0 ? ` (clusters: ${clusters.join(", ")})` : ""),
  );
  return parts.join(", ") + "\n";
}

/**
 * Prints the fleet report.
 *
 * - JSON: an object with `now`, `period`, `period_start`, the `servers`
 *   (id, cluster, last push, last run read, accounts read, name
 *   resolution), the `accounts` (the local report's fields with `cluster`,
 *   `seen_by`, `defined_on`) and the `unmatched` logged `user@host`s with
 *   their `server_id`.
 * - CSV: a header ({@link FLEET_FIELDS}) and one line per account, then one
 *   per unmatched `user@host` with status `unmatched`.
 * - Table: a line saying what it covers, the accounts, and the unmatched ones
 *   in a second table.
 *
 * @example
 * ```ts
 * const meta = { now: 0, servers: [], lastRuns: new Map() };
 * formatFleet({ rows: [], unmatched: [] }, meta, "csv", (ms) => new Date(ms).toISOString());
 * // "cluster,name,host,status,reason,last_seen,...,seen_by,defined_on\n"
 * ```
 */
export function formatFleet(
  fleet: Fleet,
  meta: FleetMeta,
  format: FleetFormat,
  time: Time,
): string {
  const accounts = fleet.rows.map((r) => record(r, time));
  const unmatched = fleet.unmatched.map((u) => ({
    server_id: u.serverId,
    cluster: u.cluster,
    ...unmatchedRecord(u, time),
  }));
  if (format === "json") {
    return JSON.stringify(
      {
        now: time(meta.now),
        period: meta.period?.text ?? null,
        period_start: meta.period ? time(meta.now - meta.period.ms) : null,
        servers: meta.servers.map((s) => ({
          server_id: s.serverId,
          cluster: s.cluster,
          pushed: time(s.pushedMs),
          last_run: optional(meta.lastRuns.get(s.serverId), time),
          accounts_read: optional(s.accountsReadMs, time),
          name_resolution: s.nameResolution,
        })),
        accounts,
        unmatched,
      },
      null,
      2,
    ) + "\n";
  }
  if (format === "csv") {
    return csvDocument(FLEET_FIELDS, accounts, unmatched, (u) => ({ seen_by: [u.server_id] }));
  }
  const table = columns([
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
    ...accounts.map((r) => [
      r.cluster || "-",
      formatAccountName({ user: r.name, host: r.host }),
      r.status,
      r.last_seen ?? "never",
      r.uncertain_logins > 0 ? `${r.logins}+${r.uncertain_logins}?` : String(r.logins),
      String(r.failed_attempts),
      r.seen_by.join(",") || "-",
      r.defined_on.join(",") || "-",
      r.reason,
    ]),
  ]);
  const out = header(meta, time) + "\n" + table;
  if (unmatched.length === 0) return out;
  return out + "\nLogged user@host that no account of its server takes:\n" + columns([
    ["SERVER", "LOGGED AS", "LOGINS", "LAST LOGIN", "FAILED", "LAST FAILED", "REASON"],
    ...unmatched.map((u) => [
      u.server_id,
      `${u.name}@${u.host}`,
      String(u.logins),
      u.last_login ?? "-",
      String(u.failed_attempts),
      u.last_failed ?? "-",
      u.reason,
    ]),
  ]);
}
