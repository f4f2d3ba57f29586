/**
 * `conntracker`: records, from MariaDB's `server_audit` log, the last time each
 * account connected. This file is the command line only.
 *
 * Commands: `run` (the default) and `report`.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage or config error, 3 audit
 * events were lost to rotation before they could be read, 4 another run held
 * the database past `LockTimeout`.
 *
 * @module
 */

import { Command, CommanderError } from "commander";
import denoJson from "./deno.json" with { type: "json" };
import { ConfigError, configPath, loadConfig } from "./lib/config.ts";
import { DiscoveryError } from "./lib/input/discover.ts";
import { createLogger, formatRecord } from "./lib/log.ts";
import { runTracking } from "./lib/track/run.ts";
import {
  LockedError,
  openStoreReadOnly,
  readObservations,
  StoreError,
} from "./lib/store/schema.ts";
import { type Account, AccountListError, parseAccountList } from "./lib/report/accounts.ts";
import { compileLayout } from "./lib/time/layout.ts";
import {
  buildReport,
  DurationError,
  filterRows,
  type Format,
  formatReport,
  FORMATS,
  parseDuration,
  SORT_KEYS,
  type SortKey,
  sortRows,
} from "./lib/report/build.ts";
import { listServerAccounts, ServerError } from "./lib/report/server.ts";
import { formatInstant } from "./lib/time/zone.ts";

/** The exit codes, as documented in the README. */
export const EXIT = { ok: 0, failure: 1, usage: 2, lost: 3, locked: 4 } as const;

/** This build's version. */
export const VERSION: string = denoJson.version;

function fail(msg: string, attrs: Record<string, string | undefined>): void {
  console.error(formatRecord(new Date(), "ERROR", msg, attrs));
}

/** Maps an error to its exit code, after writing one line about it on stderr. */
function exitCodeOf(e: unknown): number {
  if (e instanceof ConfigError) {
    fail(e.message, { file: e.file, key: e.key });
    return EXIT.usage;
  }
  if (e instanceof LockedError) {
    fail(e.message, { file: e.path });
    return EXIT.locked;
  }
  if (e instanceof StoreError) {
    fail(e.message, { file: e.path });
    return EXIT.failure;
  }
  if (e instanceof DiscoveryError) {
    fail(e.message, { file: e.path });
    return EXIT.failure;
  }
  if (e instanceof AccountListError) {
    fail(e.message, { file: e.source });
    return EXIT.usage;
  }
  if (e instanceof UsageError || e instanceof DurationError) {
    fail(e.message, {});
    return EXIT.usage;
  }
  if (e instanceof ServerError) {
    fail(e.message, {});
    return EXIT.failure;
  }
  const err = e as Error;
  fail(`Unexpected error: ${err?.message ?? String(e)}`, {
    stack: Deno.env.get("CONNTRACKER_DEBUG") ? err?.stack : undefined,
  });
  return EXIT.failure;
}

/** A command-line value that makes no sense. */
class UsageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The options of `conntracker report`. */
interface ReportOptions {
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

async function report(global: { config?: string }, options: ReportOptions): Promise<number> {
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
  const config = await loadConfig(configPath(global.config, Deno.env.toObject()));
  const defined = options.accountsFromServer
    ? await listServerAccounts({
      client: config.mariadbClient,
      defaultsFile: config.mariadbDefaultsFile,
    })
    : options.accounts === undefined
    ? undefined
    : await readAccounts(options.accounts);
  const db = openStoreReadOnly(config.sqlitePath);
  let observed;
  try {
    observed = readObservations(db, config.sqlitePath, config.timeFormatDb, config.timeLocation);
  } finally {
    db.close();
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
  const rows = sortRows(
    filterRows(built.rows, { unusedForMs, failed: options.failed, now }),
    options.sort as SortKey,
  );
  const iso = compileLayout("2006-01-02T15:04:05-07:00");
  const time = (ms: number) => formatInstant(iso, config.timeLocation, ms);
  await Deno.stdout.write(new TextEncoder().encode(formatReport(rows, format as Format, time)));
  return EXIT.ok;
}

async function run(options: { config?: string }): Promise<number> {
  const config = await loadConfig(configPath(options.config, Deno.env.toObject()));
  const summary = await runTracking(config, createLogger(config.logLevel));
  if (summary.losses.length > 0) return EXIT.lost;
  if (summary.errors.length > 0) return EXIT.failure;
  return EXIT.ok;
}

/**
 * Runs the command line with `args` and returns the exit code.
 *
 * @example
 * ```ts
 * const code = await main(["--config", "/etc/conntracker/conntracker.ini"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command("conntracker")
    .description(
      "Record the last login of every MariaDB account from the server_audit log into SQLite.",
    )
    .version(`conntracker version ${VERSION}`, "-V, --version", "print the version")
    .option(
      "-c, --config <path>",
      "the ini file (default: $CONNTRACKER_CONFIG, else /etc/conntracker/conntracker.ini)",
    )
    .exitOverride()
    .showHelpAfterError("(run conntracker --help for usage)");
  program.command("run", { isDefault: true })
    .description(
      "read new audit log lines and update the database (the default; silent on success)",
    )
    .action(async () => {
      code = await run(program.opts());
    });
  program.command("report")
    .description(
      "print accounts with their last login (reads the database only); with --accounts or " +
        "--accounts-from-server, one row per account MariaDB defines, never-used ones included",
    )
    .option("--format <format>", "table, json or csv (default: table on a terminal, else json)")
    .option(
      "--unused-for <duration>",
      "only accounts without a successful login for 90d, 12w, 6m, 1y …",
    )
    .option("--failed", "only accounts with failed attempts and no successful login in that period")
    .option(
      "--accounts <file>",
      "the defined accounts: user<TAB>host lines (- for stdin), as printed by " +
        'mariadb -N -B -e "SELECT User, Host FROM mysql.user"',
    )
    .option("--accounts-from-server", "ask the server for its accounts with the mariadb client")
    .option("--sort <key>", "last_seen (oldest first), name or logins (fewest first)", "last_seen")
    .option("--now <time>", "the time periods end at (ISO 8601; default: now)")
    .action(async (options: ReportOptions) => {
      code = await report(program.opts(), options);
    });
  program.command("version")
    .description("print the version")
    .action(() => console.log(`conntracker version ${VERSION}`));
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return exitCodeOf(e);
  }
  return code;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
