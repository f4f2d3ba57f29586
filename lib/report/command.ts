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
  const now = options.now === undefined ? Date.now() : Date.parse(options.now);
  if (Number.isNaN(now)) {
    throw new UsageError(
      `Invalid --now "${options.now}": expected ISO 8601, e.g. 2026-11-25T12:00:00+01:00`,
    );
  }
  const period = options.unusedFor === undefined
    ? undefined
    : { text: options.unusedFor, ms: parseDuration(options.unusedFor) };
  return { format: format as Format, sort: options.sort as SortKey, now, period };
}

/** The accounts the report judges, and what asking the server told. */
interface Defined {
  accounts?: Account[];
  self?: SelfLogin;
  nameResolution: NameResolution;
  accountsFrom: ReportMeta["accountsFrom"];
}

async function definedAccounts(
  options: ReportOptions,
  config: { mariadbClient: string; mariadbDefaultsFile: string },
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
  if (options.accounts === undefined) return { nameResolution: "unknown", accountsFrom: "log" };
  const accounts = await readAccounts(options.accounts);
  return { accounts, nameResolution: "unknown", accountsFrom: "file" };
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
  const defined = await definedAccounts(options, config);
  const times = { layout: config.timeFormatDb, zone: config.timeLocation };
  const store = openStoreReadOnly(config.sqlitePath, times);
  let observed;
  try {
    observed = readObservations(store);
  } finally {
    store.db.close();
  }
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
    lastRun: observed.lastRun,
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
