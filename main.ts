/**
 * `conntracker`: records, from MariaDB's `server_audit` log, the last time each
 * account connected. This file is the command line only.
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
import { DiscoveryError } from "./lib/discover.ts";
import { createLogger, formatRecord } from "./lib/log.ts";
import { runTracking } from "./lib/run.ts";
import { LockedError, StoreError } from "./lib/store.ts";

/** The exit codes, as documented in the README. */
export const EXIT = { ok: 0, failure: 1, usage: 2, lost: 3, locked: 4 } as const;

/** This build's version. */
export const VERSION: string = denoJson.version;

function fail(msg: string, attrs: Record<string, string | undefined>): void {
  console.error(formatRecord(new Date(), "ERROR", msg, attrs));
}

/** Maps an error to its exit code, after writing one line about it on stderr. */
function report(e: unknown): number {
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
  const err = e as Error;
  fail(`Unexpected error: ${err?.message ?? String(e)}`, {
    stack: Deno.env.get("CONNTRACKER_DEBUG") ? err?.stack : undefined,
  });
  return EXIT.failure;
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
  program.command("version")
    .description("print the version")
    .action(() => console.log(`conntracker version ${VERSION}`));
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return report(e);
  }
  return code;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
