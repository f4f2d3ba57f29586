/**
 * Track: one run, from files to what it writes.
 *
 * - `run.ts`: the run, step by step, in one transaction;
 * - `checkpoints.ts`: which files to read, from where (the checkpoint book),
 *   and which may still be written;
 * - `schedule.ts`: looking at every file, reading those that changed in
 *   order, with Workers when it pays;
 * - `parallel.ts`, `scan_worker.ts`: scanning ranges apart, in Workers;
 * - `apply.ts`: applying ranges to the tally in log order, through each
 *   file's log clock;
 * - `aggregate.ts`: records to per-account activity (the change-user rules);
 * - `losses.ts`: files removed while they may still have been written, and
 *   a cron interval too long for the rotation;
 * - `notices.ts`: saying, once a day while it lasts, that no file is an audit log;
 * - `watermark.ts`: the old tool's watermark row;
 * - `failures.ts`: files that could not be read;
 * - `zone_warning.ts`: saying so when `TimeLocation` does not fit the live file;
 * - `metrics.ts`: the run's one metrics record, for every consumer.
 *
 * A new consumer of a run's figures (`--json`, a metrics file) takes
 * {@link RunMetrics} from the {@link RunSummary}.
 *
 * @module
 */

export * from "./aggregate.ts";
export * from "./apply.ts";
export * from "./checkpoints.ts";
export * from "./failures.ts";
export * from "./losses.ts";
export * from "./metrics.ts";
export * from "./notices.ts";
export * from "./parallel.ts";
export * from "./run.ts";
export * from "./schedule.ts";
export * from "./watermark.ts";
export * from "./zone_warning.ts";
