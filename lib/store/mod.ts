/**
 * Store: the SQLite database.
 *
 * - `database.ts`: opening it (for a run, creating the file with its mode, or
 *   read-only for a report) and {@link StoreError}s that name the file;
 * - `schema.ts`: the tables, migrations, and the run's transaction;
 * - `stored_time.ts`: times as the old tool's `Accounts.last_seen` holds them;
 * - `run_writes.ts`: what a run reads first and everything it writes;
 * - `report_reads.ts`: what a report reads;
 * - `changes.ts`: the change sequence and incarnation id, and what a push to
 *   a central store sends.
 *
 * Another store (a central MariaDB for a fleet) takes the same
 * {@link RunOutcome} and gives the same {@link Observations}, beside these.
 *
 * @module
 */

export * from "./changes.ts";
export * from "./database.ts";
export * from "./report_reads.ts";
export * from "./run_writes.ts";
export * from "./schema.ts";
export * from "./stored_time.ts";
