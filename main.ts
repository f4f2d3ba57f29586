/**
 * `conntracker`: records, from MariaDB's `server_audit` log, the last time each
 * account connected. This file is the command line only: it parses the
 * arguments, hands them to `lib/track` (`run`) or `lib/report` (`report`),
 * and maps error classes to exit codes through one table.
 *
 * Commands: `run` (the default), `push` and `report`.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage or config error, 3 audit
 * events were lost to rotation before they could be read, 4 another run held
 * the database past `LockTimeout`, 5 the central store could not be updated
 * (`push`, or a run with `--strict-push`).
 *
 * @module
 */

import { Command, CommanderError } from "commander";
import denoJson from "./deno.json" with { type: "json" };
import { ConfigError, configPath, loadConfig } from "./lib/config.ts";
import { DiscoveryError } from "./lib/input/mod.ts";
import { CentralError, fleetReport, pushAndLog } from "./lib/push/mod.ts";
import { type Attrs, createLogger, formatRecord } from "./lib/log.ts";
import {
  AccountListError,
  DurationError,
  report,
  type ReportOptions,
  ServerError,
} from "./lib/report/mod.ts";
import { LockedError, StoreError } from "./lib/store/mod.ts";
import { runTracking } from "./lib/track/mod.ts";
import { UsageError } from "./lib/usage.ts";

/** The exit codes, as documented in the README. */
export const EXIT = { ok: 0, failure: 1, usage: 2, lost: 3, locked: 4, push: 5 } as const;

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
  rule(StoreError, EXIT.failure, (e) => ({ file: e.path })),
  rule(DiscoveryError, EXIT.failure, (e) => ({ file: e.path })),
  rule(AccountListError, EXIT.usage, (e) => ({ file: e.source })),
  rule(UsageError, EXIT.usage),
  rule(DurationError, EXIT.usage),
  rule(ServerError, EXIT.failure),
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

async function run(options: { config?: string; strictPush?: boolean }): Promise<number> {
  const config = await loadConfig(configPath(options.config, Deno.env.toObject()));
  const log = createLogger(config.logLevel);
  const summary = await runTracking({ config, log });
  // The run has committed: a central store that is down only delays its copy.
  const pushed = config.central && await pushAndLog({ config, log });
  if (summary.losses.length > 0) return EXIT.lost;
  if (summary.errors.length > 0) return EXIT.failure;
  if (pushed && !pushed.ok && options.strictPush) return EXIT.push;
  return EXIT.ok;
}

async function push(options: { config?: string }): Promise<number> {
  const config = await loadConfig(configPath(options.config, Deno.env.toObject()));
  if (!config.central) throw new ConfigError(config.file, "No [central] section to push to");
  const pushed = await pushAndLog({ config, log: createLogger(config.logLevel) });
  return pushed.ok ? EXIT.ok : EXIT.push;
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
    .option(
      "--strict-push",
      "exit with code 5 when the push to the [central] store fails (default: a warning only)",
    )
    .action(async (options: { strictPush?: boolean }) => {
      code = await run({ ...program.opts(), ...options });
    });
  program.command("push")
    .description(
      "send the [central] store what changed since its last acknowledgement (runs push by " +
        "themselves; exit code 5 when it fails)",
    )
    .action(async () => {
      code = await push(program.opts());
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
    .option("--central", "report across the fleet, from the [central] store")
    .action(async (options: Omit<ReportOptions, "config"> & { central?: boolean }) => {
      const { central, ...rest } = options;
      await (central ? fleetReport : report)({ ...rest, config: program.opts().config });
      code = EXIT.ok;
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
