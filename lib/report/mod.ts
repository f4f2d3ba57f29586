/**
 * Report: which accounts are unused.
 *
 * - `command.ts`: `conntracker report`, from its options to its output;
 * - `accounts.ts`: account lists, and which account MariaDB chooses for a client;
 * - `candidates.ts`: which accounts a logged `user@host` can stand for;
 * - `resolve.ts`: logged host names through the system resolver;
 * - `server.ts`: the accounts a running server defines, through its client;
 * - `build.ts`: rows per defined account, judged, filtered and sorted;
 * - `verdict.ts`: `used`, `unused`, `never-seen` or `unknown`, with the reason;
 * - `duration.ts`: `--unused-for` periods;
 * - `format.ts`: table, JSON and CSV. A new output format goes here;
 * - `sql.ts`: the `ACCOUNT LOCK` plan.
 *
 * @module
 */

export * from "./accounts.ts";
export * from "./build.ts";
export * from "./candidates.ts";
export * from "./command.ts";
export * from "./duration.ts";
export * from "./format.ts";
export * from "./resolve.ts";
export * from "./server.ts";
export * from "./sql.ts";
export * from "./verdict.ts";
