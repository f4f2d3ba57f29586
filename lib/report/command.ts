/**
 * `conntracker report`: checks its options, reads the database (never
 * writing it) and the defined accounts (a list, or the server), resolves the
 * logged host names as the server would, then builds, judges, filters, sorts
 * and prints the report.
 *
 * @module
 */

import { configPath, loadConfig } from "../config.ts";
import type { Account } from "../format/account.ts";
import { openStoreReadOnly } from "../store/database.ts";
import { readObservations } from "../store/report_reads.ts";
import { compileLayout } from "../time/layout.ts";
import { formatInstant } from "../time/zone.ts";
import { UsageError } from "../usage.ts";
import { AccountListError, isIpAddress, parseAccountList } from "./accounts.ts";
import {
  buildReport,
  filterRows,
  type SelfLogin,
  SORT_KEYS,
  type SortKey,
  sortRows,
} from "./build.ts";
import type { NameResolution } from "./candidates.ts";
import { parseDuration } from "./duration.ts";
import { type Format, formatReport, FORMATS, type ReportMeta } from "./format.ts";
import { resolveHosts } from "./resolve.ts";
import { listServerAccounts } from "./server.ts";

/** The options of `conntracker report`, as given on the command line. */
export interface ReportOptions {
  /** `--config`, else `$CONNTRACKER_CONFIG`, else the default. */
  config?: string;
  format?: string;
  unusedFor?: string;
  failed?: boolean;
  accounts?: string;
  accountsFromServer?: boolean;
  sort: string;
  now?: string;
}

async function readAccounts(file: string): Promise<Account[]> {
  if (file === "-") {
    return parseAccountList(await new Response(Deno.stdin.readable).text(), "stdin");
  }
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new AccountListError(file, `Account list cannot be read: ${(e as Error).message}`);
  }
  return parseAccountList(text, file);
}

/** The options, checked: a {@link UsageError} names the first that makes no sense. */
function checkOptions(options: ReportOptions) {
  const format = options.format ?? (Deno.stdout.isTerminal() ? "table" : "json");
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`Invalid --format "${format}": expected ${FORMATS.join(", ")}`);
  }
  if (!(SORT_KEYS as readonly string[]).includes(options.sort)) {
    throw new UsageError(`Invalid --sort "${options.sort}": expected ${SORT_KEYS.join(", ")}`);
  }
  if (options.accounts !== undefined && options.accountsFromServer) {
    throw new UsageError("Use --accounts or --accounts-from-server, not both");
  }
  if (format === "sql" && options.accounts === undefined && !options.accountsFromServer) {
    // Without a list the rows are logged user@client-host pairs, which need not be accounts.
    throw new UsageError(
      "--format sql needs the accounts MariaDB defines: add --accounts-from-server or --accounts FILE",
    );
  }
  return { format: format as Format, sort: options.sort as SortKey, ...parseWindow(options) };
}

/** A report's period: it ends at `--now` (default: now) and lasts `--unused-for`. */
export interface ReportWindow {
  now: number;
  period?: { text: string; ms: number };
}

/**
 * Reads `--now` and `--unused-for`, as `report` and `report --central` take them.
 *
 * @example
 * ```ts
 * parseWindow({ now: "2026-11-25T12:00:00+01:00", unusedFor: "90d" }).period?.ms; // 7776000000
 * ```
 * @throws {UsageError} for a `--now` that is not ISO 8601, and
 * {@link import("./duration.ts").DurationError} for a bad `--unused-for`.
 */
export function parseWindow(options: { now?: string; unusedFor?: string }): ReportWindow {
  const now = options.now === undefined ? Date.now() : Date.parse(options.now);
  if (Number.isNaN(now)) {
    throw new UsageError(
      `Invalid --now "${options.now}": expected ISO 8601, e.g. 2026-11-25T12:00:00+01:00`,
    );
  }
  const period = options.unusedFor === undefined
    ? undefined
    : { text: options.unusedFor, ms: parseDuration(options.unusedFor) };
  return { now, period };
}

/** The accounts the report judges, and what asking the server told. */
interface Defined {
  accounts?: Account[];
  self?: SelfLogin;
  nameResolution: NameResolution;
  accountsFrom: ReportMeta["accountsFrom"];
}

/** The defined accounts: from the server (asked now), else the list already read, else none. */
async function definedAccounts(
  options: ReportOptions,
  config: { mariadbClient: string; mariadbDefaultsFile: string },
  listed: Account[] | undefined,
): Promise<Defined> {
  if (options.accountsFromServer) {
    const server = await listServerAccounts({
      client: config.mariadbClient,
      defaultsFile: config.mariadbDefaultsFile,
    });
    return {
      accounts: server.accounts,
      self: server.self,
      nameResolution: server.nameResolution,
      accountsFrom: "server",
    };
  }
  if (listed === undefined) return { nameResolution: "unknown", accountsFrom: "log" };
  return { accounts: listed, nameResolution: "unknown", accountsFrom: "file" };
}

/**
 * Runs `conntracker report` and writes the report on stdout.
 *
 * @example
 * ```ts
 * await report({ config: "/etc/conntracker/conntracker.ini", format: "csv", sort: "name" });
 * ```
 * @throws {UsageError} for an option that makes no sense, and the errors of loading the
 * config, reading the database and the defined accounts.
 */
export async function report(options: ReportOptions): Promise<void> {
  const { format, sort, now, period } = checkOptions(options);
  const config = await loadConfig(configPath(options.config, Deno.env.toObject()));
  const listed = options.accounts === undefined ? undefined : await readAccounts(options.accounts);
  const times = { layout: config.timeFormatDb, zone: config.timeLocation };
  // The database before the server: before any run there is nothing to report (exit 6).
  const store = openStoreReadOnly(config.sqlitePath, times);
  let observed;
  try {
    observed = readObservations(store);
  } finally {
    store.db.close();
  }
  const defined = await definedAccounts(options, config, listed);
  const hosts = observed.accounts.map((o) => o.host);
  // A logged name other than localhost means the server resolved names at that time.
  const named = hosts.some((h) => h !== "localhost" && !isIpAddress(h));
  const mode = defined.nameResolution === "off" && named ? "unknown" : defined.nameResolution;
  const resolution = defined.accounts
    ? await resolveHosts(hosts, mode)
    : { mode, addresses: new Map() };
  const iso = compileLayout("2006-01-02T15:04:05-07:00");
  const time = (ms: number) => formatInstant(iso, config.timeLocation, ms);
  const built = buildReport({
    observed: observed.accounts,
    proxies: observed.proxies,
    defined: defined.accounts,
    resolution,
    watched: observed.watched,
    losses: observed.losses,
    runs: observed.runs,
    now,
    periodMs: period?.ms,
    self: defined.self,
    time,
  });
  const rows = sortRows(
    filterRows(built.rows, { periodMs: period?.ms, failed: options.failed, now }),
    sort,
  );
  const meta: ReportMeta = {
    now,
    period,
    accountsFrom: defined.accountsFrom,
    connectedAs: defined.self?.account,
    nameResolution: mode,
  };
  const text = formatReport({ ...built, rows }, meta, format, time);
  await Deno.stdout.write(new TextEncoder().encode(text));
}
