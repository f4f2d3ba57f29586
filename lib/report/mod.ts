/**
 * Report: which accounts are unused.
 *
 * - `command.ts`: `conntracker report`, from its options to its output;
 * - `accounts.ts`: account lists, and which account MariaDB chose for a login;
 * - `server.ts`: the accounts a running server defines, through its client;
 * - `build.ts`: rows per defined account, filtered and sorted;
 * - `duration.ts`: `--unused-for` periods;
 * - `format.ts`: table, JSON and CSV. A new output format goes here.
 *
 * @module
 */

export * from "./accounts.ts";
export * from "./build.ts";
export * from "./command.ts";
export * from "./duration.ts";
export * from "./format.ts";
export * from "./server.ts";
