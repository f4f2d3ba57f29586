/**
 * `conntracker`: records, from MariaDB's `server_audit` log, the last time each
 * account connected. This file is the command line only: it parses the
 * arguments, hands them to `lib/track` (`run`), `lib/push` (`push`),
 * `lib/report` (`report`) or `lib/check` (`check`), and maps error classes to
 * exit codes through one table. Each command imports its implementation when
 * it runs (a literal `import()`, which `deno compile` embeds), so that a run
 * does not load what only `report`, `check` or `[central]` use; the error
 * classes come from small modules.
 *
 * Commands: `run` (the default), `push`, `report` and `check`.
 *
 * Exit codes: 0 success (also when no file is an audit log: that is said on
 * stderr), 1 runtime failure (`AuditLogPath` does not exist, a file or the
 * database cannot be read or written), 2 usage or config error, 3 audit events
 * may have been lost to rotation before they could be read, 4 another run held
 * the database past `LockTimeout`, 5 `check` found an error in the setup,
 * 6 (`report`) no run has completed yet, 7 the central store could not be
 * updated (`push`, or a run with `--strict-push`).
 *
 * @module
 */

import { Command, CommanderError } from "commander";
import denoJson from "./deno.json" with { type: "json" };
import { TimeSpanError } from "./lib/check/time_span.ts";
import { ConfigError, configPath, loadConfig } from "./lib/config.ts";
import { DiscoveryError } from "./lib/input/discover.ts";
import { ServerError } from "./lib/input/mariadb_client.ts";
import { CentralError } from "./lib/push/connect.ts";
import { type Attrs, createLogger, formatRecord, shiftLevel } from "./lib/log.ts";
import { runJson } from "./lib/output/json.ts";
import { MetricsFileError, writeMetricsFile } from "./lib/output/metrics_file.ts";
import { createProgressBar } from "./lib/output/progress.ts";
import { AccountListError } from "./lib/report/accounts.ts";
import type { ReportOptions } from "./lib/report/command.ts";
import { DurationError } from "./lib/report/duration.ts";
import { LockedError, NoRunYetError, StoreError } from "./lib/store/database.ts";
import { UsageError } from "./lib/usage.ts";

/** The exit codes, as documented in the README. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  lost: 3,
  locked: 4,
  check: 5,
  noRunYet: 6,
  push: 7,
} as const;

/** This build's version. */
export const VERSION: string = denoJson.version;

/** An error class, its exit code, and what its one line on stderr says beside the message. */
interface ExitRule {
  class: abstract new (...args: never[]) => Error;
  code: number;
  attrs: (e: never) => Attrs;
}

function rule<E extends Error>(
  errorClass: abstract new (...args: never[]) => E,
  code: number,
  attrs: (e: E) => Attrs = () => ({}),
): ExitRule {
  return { class: errorClass, code, attrs: attrs as (e: never) => Attrs };
}

/** Exit codes by error class; the first class that matches wins (subclasses first). */
const EXIT_RULES: ExitRule[] = [
  rule(ConfigError, EXIT.usage, (e) => ({ file: e.file, key: e.key })),
  rule(LockedError, EXIT.locked, (e) => ({ file: e.path })),
  rule(NoRunYetError, EXIT.noRunYet, (e) => ({ file: e.path })),
  rule(StoreError, EXIT.failure, (e) => ({ file: e.path })),
  rule(DiscoveryError, EXIT.failure, (e) => ({ file: e.path })),
  rule(AccountListError, EXIT.usage, (e) => ({ file: e.source })),
  rule(UsageError, EXIT.usage),
  rule(DurationError, EXIT.usage),
  rule(TimeSpanError, EXIT.usage),
  rule(ServerError, EXIT.failure),
  rule(MetricsFileError, EXIT.failure, (e) => ({ file: e.path })),
  rule(CentralError, EXIT.failure),
];

/** Maps an error to its exit code, after writing one line about it on stderr. */
function exitCodeOf(e: unknown): number {
  const found = EXIT_RULES.find((r) => e instanceof r.class);
  if (found) {
    const err = e as Error;
    console.error(formatRecord(new Date(), "ERROR", err.message, found.attrs(e as never)));
    return found.code;
  }
  const err = e as Error;
  console.error(
    formatRecord(new Date(), "ERROR", `Unexpected error: ${err?.message ?? String(e)}`, {
      stack: Deno.env.get("CONNTRACKER_DEBUG") ? err?.stack : undefined,
    }),
  );
  return EXIT.failure;
}

/** The options of `run`. */
interface RunCommandOptions {
  config?: string;
  dryRun?: boolean;
  json?: boolean;
  /** A failed push to `[central]` makes the exit code {@link EXIT.push}. */
  strictPush?: boolean;
  /** How many times `-v` and `-q` were given. */
  verbose: number;
  quiet: number;
}

async function run(options: RunCommandOptions): Promise<number> {
  const config = await loadConfig(configPath(options.config, Deno.env.toObject()));
  const level = shiftLevel(config.logLevel, options.quiet - options.verbose);
  const bar = await createProgressBar();
  const dryRun = options.dryRun ?? false;
  let code: number;
  try {
    const log = createLogger(level);
    const { runTracking } = await import("./lib/track/mod.ts");
    const summary = await runTracking({
      config,
      log,
      dryRun,
      onProgress: (p) => bar.update(p),
    });
    bar.stop();
    // The run has committed: a central store that is down only delays its copy.
    const afterRun = config.central && !dryRun
      ? await import("./lib/push/after_run.ts")
      : undefined;
    const pushed = await afterRun?.pushAndLog({ config, log });
    code = summary.losses.length > 0
      ? EXIT.lost
      : summary.errors.length > 0
      ? EXIT.failure
      : pushed && !pushed.ok && options.strictPush
      ? EXIT.push
      : EXIT.ok;
    if (options.json) {
      const push = afterRun && pushed && { push: afterRun.pushJson(pushed) };
      console.log(JSON.stringify({ ...runJson(summary), ...push }));
    }
    if (config.metricsFile && !dryRun) {
      await writeMetricsFile(config.metricsFile, {
        finishedMs: summary.metrics.finishedMs,
        success: code === EXIT.ok,
        metrics: summary.metrics,
      });
    }
  } catch (e) {
    bar.stop();
    if (config.metricsFile && !dryRun && !(e instanceof MetricsFileError)) {
      await writeMetricsFile(config.metricsFile, { finishedMs: Date.now(), success: false })
        .catch((w) => exitCodeOf(w));
    }
    throw e;
  }
  return code;
}

async function push(options: { config?: string; json?: boolean }): Promise<number> {
  const config = await loadConfig(configPath(options.config, Deno.env.toObject()));
  if (!config.central) throw new ConfigError(config.file, "No [central] section to push to");
  const { pushAndLog, pushJson } = await import("./lib/push/after_run.ts");
  const pushed = await pushAndLog({ config, log: createLogger(config.logLevel) });
  if (options.json) console.log(JSON.stringify(pushJson(pushed)));
  return pushed.ok ? EXIT.ok : EXIT.push;
}

/** The options of `check`. */
interface CheckCommandOptions {
  config?: string;
  format: string;
  interval?: string;
}

async function check(options: CheckCommandOptions): Promise<number> {
  if (options.format !== "table" && options.format !== "json") {
    throw new UsageError(`Invalid --format "${options.format}": expected table or json`);
  }
  const config = await loadConfig(configPath(options.config, Deno.env.toObject()));
  const { formatFindings, parseTimeSpan, runCheck } = await import("./lib/check/mod.ts");
  const findings = await runCheck({
    config,
    intervalMs: options.interval === undefined ? undefined : parseTimeSpan(options.interval),
  });
  const out = options.format === "json"
    ? JSON.stringify(findings, null, 2) + "\n"
    : formatFindings(findings);
  await Deno.stdout.write(new TextEncoder().encode(out));
  return findings.some((f) => f.severity === "error") ? EXIT.check : EXIT.ok;
}

/** Counts a repeated flag (`-vv`). */
function count(_value: string, previous: number): number {
  return previous + 1;
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
    .option("--dry-run", "read and count, but leave the database exactly as it was")
    .option("--json", "print the run as one JSON object on stdout")
    .option("-v, --verbose", "log more than LogLevel (-v: one level, -vv: two)", count, 0)
    .option("-q, --quiet", "log less than LogLevel (down to ERROR)", count, 0)
    .option(
      "--strict-push",
      "exit with code 7 when the push to the [central] store fails (default: a warning only)",
    )
    .action(async (options: Omit<RunCommandOptions, "config">) => {
      code = await run({ ...options, config: program.opts().config });
    });
  program.command("push")
    .description(
      "send the [central] store what changed since its last acknowledgement (runs push by " +
        "themselves; exit code 7 when it fails)",
    )
    .option("--json", "print the push as one JSON object on stdout")
    .action(async (options: { json?: boolean }) => {
      code = await push({ ...options, config: program.opts().config });
    });
  program.command("report")
    .description(
      "print accounts with their last login (reads the database only); with --accounts or " +
        "--accounts-from-server, one row per account MariaDB defines, never-used ones included",
    )
    .option(
      "--format <format>",
      "table, json, csv or sql (ACCOUNT LOCK plan) (default: table on a terminal, else json)",
    )
    .option(
      "--unused-for <duration>",
      "only accounts not certainly used in the last 90d, 12w, 6m, 1y … (status and reason say why)",
    )
    .option("--failed", "only accounts not used (in that period) with failed attempts in it")
    .option(
      "--accounts <file>",
      "the defined accounts: user<TAB>host lines (- for stdin), as printed by " +
        'mariadb -N -B -e "SELECT User, Host FROM mysql.user"',
    )
    .option("--accounts-from-server", "ask the server for its accounts with the mariadb client")
    .option("--sort <key>", "last_seen (oldest first), name or logins (fewest first)", "last_seen")
    .option("--now <time>", "the time periods end at (ISO 8601; default: now)")
    .option("--central", "report across the fleet, from the [central] store")
    .action(async (options: Omit<ReportOptions, "config"> & { central?: boolean }) => {
      const { central, ...rest } = options;
      const reportOf = central
        ? (await import("./lib/push/fleet_report.ts")).fleetReport
        : (await import("./lib/report/command.ts")).report;
      await reportOf({ ...rest, config: program.opts().config });
      code = EXIT.ok;
    });
  program.command("check")
    .description(
      "inspect the setup (audit plugin, rotation, logrotate, zone, files, database, last run): " +
        "one line per finding; exit 5 on an error",
    )
    .option("--format <format>", "table or json", "table")
    .option(
      "--interval <span>",
      "how often conntracker runs (5min, 1h), when no systemd timer or cron entry tells",
    )
    .action(async (options: Omit<CheckCommandOptions, "config">) => {
      code = await check({ ...options, config: program.opts().config });
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
