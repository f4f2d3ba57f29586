/**
 * `conntracker report`: checks its options, reads the database (never
 * writing it) and the defined accounts (a list, or the server), then builds,
 * filters, sorts and prints the report.
 *
 * @module
 */

import { configPath, loadConfig } from "../config.ts";
import type { Account } from "../format/account.ts";
import { createLogger } from "../log.ts";
import { openStoreReadOnly } from "../store/database.ts";
import { readObservations } from "../store/report_reads.ts";
import { compileLayout } from "../time/layout.ts";
import { formatInstant } from "../time/zone.ts";
import { UsageError } from "../usage.ts";
import { AccountListError, parseAccountList } from "./accounts.ts";
import { buildReport, filterRows, SORT_KEYS, type SortKey, sortRows } from "./build.ts";
import { parseDuration } from "./duration.ts";
import { type Format, formatReport, FORMATS } from "./format.ts";
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
  const unusedForMs = options.unusedFor === undefined
    ? undefined
    : parseDuration(options.unusedFor);
  return { format: format as Format, sort: options.sort as SortKey, now, unusedForMs };
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
  const { format, sort, now, unusedForMs } = checkOptions(options);
  const config = await loadConfig(configPath(options.config, Deno.env.toObject()));
  const defined = options.accountsFromServer
    ? await listServerAccounts({
      client: config.mariadbClient,
      defaultsFile: config.mariadbDefaultsFile,
    })
    : options.accounts === undefined
    ? undefined
    : await readAccounts(options.accounts);
  const times = { layout: config.timeFormatDb, zone: config.timeLocation };
  const store = openStoreReadOnly(config.sqlitePath, times);
  let observed;
  try {
    observed = readObservations(store);
  } finally {
    store.db.close();
  }
  const built = buildReport(observed.accounts, observed.proxies, defined);
  const log = createLogger(config.logLevel);
  for (const o of built.unmatched) {
    log.log("INFO", "logged user matches no defined account", {
      user: o.user,
      host: o.host,
      logins: o.logins,
      failed_attempts: o.failed,
    });
  }
  const rows = sortRows(filterRows(built.rows, { unusedForMs, failed: options.failed, now }), sort);
  const iso = compileLayout("2006-01-02T15:04:05-07:00");
  const time = (ms: number) => formatInstant(iso, config.timeLocation, ms);
  await Deno.stdout.write(new TextEncoder().encode(formatReport(rows, format, time)));
}
