/**
 * `conntracker report --central`: the report's options, across the fleet, from
 * the central store (as a reader: it never writes there).
 *
 * @module
 */

import { ConfigError, configPath, loadConfig } from "../config.ts";
import { filterRows, SORT_KEYS, type SortKey, sortRows } from "../report/build.ts";
import { parseWindow, type ReportOptions } from "../report/command.ts";
import { compileLayout } from "../time/layout.ts";
import { formatInstant } from "../time/zone.ts";
import { UsageError } from "../usage.ts";
import { TIMEOUTS } from "./connect.ts";
import { buildFleet, type FleetRow } from "./fleet.ts";
import { FLEET_FORMATS, type FleetFormat, formatFleet } from "./fleet_format.ts";
import { readFleet } from "./fleet_reads.ts";

function checkOptions(options: ReportOptions) {
  const format = options.format ?? (Deno.stdout.isTerminal() ? "table" : "json");
  if (!(FLEET_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(
      `Invalid --format "${format}" with --central: expected ${FLEET_FORMATS.join(", ")}`,
    );
  }
  if (!(SORT_KEYS as readonly string[]).includes(options.sort)) {
    throw new UsageError(`Invalid --sort "${options.sort}": expected ${SORT_KEYS.join(", ")}`);
  }
  if (options.accounts !== undefined || options.accountsFromServer) {
    throw new UsageError(
      "--central reports the accounts each server pushed: leave out --accounts and " +
        "--accounts-from-server",
    );
  }
  return { format: format as FleetFormat, sort: options.sort as SortKey, ...parseWindow(options) };
}

/**
 * Runs `conntracker report --central` and writes the report on stdout: rows
 * grouped by cluster, each cluster's sorted as `--sort` says.
 *
 * @example
 * ```ts
 * await fleetReport({ config: "/etc/conntracker/reader.ini", unusedFor: "90d", sort: "name" });
 * ```
 * @throws {UsageError} for an option that makes no sense, {ConfigError} without a
 * `[central]` section, {CentralError} when the central store cannot be read.
 */
export async function fleetReport(options: ReportOptions): Promise<void> {
  const { format, sort, now, period } = checkOptions(options);
  const config = await loadConfig(configPath(options.config, Deno.env.toObject()));
  if (!config.central) {
    throw new ConfigError(config.file, "No [central] section to report from (--central)");
  }
  const data = await readFleet(config.central, TIMEOUTS);
  const iso = compileLayout("2006-01-02T15:04:05-07:00");
  const time = (ms: number) => formatInstant(iso, config.timeLocation, ms);
  const fleet = buildFleet(data, { periodMs: period?.ms, now, time });
  const kept = filterRows(fleet.rows, { periodMs: period?.ms, failed: options.failed, now });
  const rows = (sortRows(kept, sort) as FleetRow[])
    .sort((a, b) => (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0));
  const lastRuns = new Map(
    data.servers.map((
      s,
    ) => [s.serverId, data.observations.get(s.serverId)?.runs.at(-1)?.startedMs]),
  );
  const text = formatFleet(
    { ...fleet, rows },
    { now, period, servers: data.servers, lastRuns },
    format,
    time,
  );
  await Deno.stdout.write(new TextEncoder().encode(text));
}
