/**
 * One tracking run: discover files → read the new bytes of those newer than
 * the watermark → recover what older files still hold unread → one SQLite
 * transaction with the activity, the checkpoints, the watermark and the
 * run's metrics, so that a run that fails or is killed leaves the database
 * as it was.
 *
 * @module
 */

import type { Config } from "../config.ts";
import { lineFormat } from "../format/line.ts";
import { type Candidate, databaseFiles, discoverFiles } from "../input/discover.ts";
import type { Logger } from "../log.ts";
import { openStore } from "../store/database.ts";
import { readState, writeRun } from "../store/run_writes.ts";
import { beginRun, commitRun, rollbackRun } from "../store/schema.ts";
import { createTally, type Tally } from "./aggregate.ts";
import { createReading, type Reading } from "./apply.ts";
import { createCheckpointBook, type FileRead } from "./checkpoints.ts";
import type { Failures } from "./failures.ts";
import { type Loss, recoverLosses } from "./losses.ts";
import { metricsAttrs, type RunMetrics } from "./metrics.ts";
import { readFiles, type ScanTuning, TUNING } from "./schedule.ts";
import { nextWatermark } from "./watermark.ts";
import { warnOnWrongZone } from "./zone_warning.ts";

/** What a run did. */
export interface RunSummary {
  metrics: RunMetrics;
  losses: Loss[];
  /** Files that could not be read; the others were. */
  errors: { path: string; message: string }[];
}

/** A run's inputs. */
export interface RunOptions {
  config: Config;
  log: Logger;
  /** When a run scans in Workers (default: as measured). */
  tuning?: ScanTuning;
  /** The clock, epoch milliseconds (default `Date.now`). */
  now?: () => number;
}

/** The metrics record of a run, built once from what its parts counted. */
function buildMetrics(parts: {
  startedMs: number;
  finishedMs: number;
  reads: FileRead[];
  tally: Tally;
  reading: Reading;
  losses: Loss[];
  failures: Failures;
}): RunMetrics {
  const withBytes = parts.reads.filter((r) => r.ranges.length > 0);
  const { counts } = parts.tally;
  return {
    startedMs: parts.startedMs,
    finishedMs: parts.finishedMs,
    filesRead: withBytes.length,
    bytesRead: withBytes.reduce((sum, r) => sum + r.bytesRead, 0),
    logins: counts.logins,
    failed: counts.failed,
    malformed: parts.reading.scan.malformed + counts.badTimestamp,
    longLines: withBytes.reduce((sum, r) => sum + r.longLines, 0),
    emptyUser: counts.emptyUser,
    changeUsersResolved: counts.changeUsersResolved,
    changeUsersDropped: counts.changeUsersDropped,
    changeUsersPending: parts.tally.pending.size,
    candidates: parts.reading.scan.candidates,
    rescans: parts.reading.rescans,
    losses: parts.losses.length,
    errors: parts.failures.errors.length,
  };
}

/**
 * Runs one tracking pass.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * const config = await loadConfig("/etc/conntracker/conntracker.ini");
 * const summary = await runTracking({ config, log: createLogger(config.logLevel) });
 * summary.metrics.logins;
 * ```
 * @throws {DiscoveryError} when `AuditLogPath` cannot be read, and {StoreError} when the
 * database cannot be used (both from their stages); the database is then left as it was.
 */
export async function runTracking(options: RunOptions): Promise<RunSummary> {
  const { config, log, tuning = TUNING, now = Date.now } = options;
  const startedMs = now();
  const times = { layout: config.timeFormatDb, zone: config.timeLocation };
  const store = openStore(config.sqlitePath, { lockTimeoutMs: config.lockTimeoutMs, times });
  try {
    beginRun(store);
    const state = readState(store);
    const { files, errors: listErrors } = await discoverFiles({
      path: config.auditLogPath,
      name: config.auditLogFile,
      recursive: config.auditLogRecursive,
      exclude: databaseFiles(config.sqlitePath),
    });
    for (const e of listErrors) log.log("ERROR", `audit file ${e.message}`, { file: e.path });
    const tally = createTally(state.pending);
    const reading = createReading({
      tally,
      format: lineFormat(config.timeFormatAudit),
      zone: config.timeLocation,
      log,
    });
    const book = createCheckpointBook(state.checkpoints, startedMs);
    const failures: Failures = {
      errors: listErrors.map((e) => ({ path: e.path, message: e.message })),
      failedMtimes: [],
    };
    const read = (some: Candidate[]) =>
      readFiles(some, { reading, book, failures, maxWorkers: config.maxWorkers, tuning });
    const watermark = state.watermarkMs ?? -Infinity;
    const skipped: Candidate[] = [];
    const recent: Candidate[] = [];
    for (const file of files) (file.mtimeMs > watermark ? recent : skipped).push(file);
    const reads = await read(recent);
    const losses = await recoverLosses({
      book,
      skipped,
      read: async (file) => {
        const done = await read([file]);
        reads.push(...done);
        return done;
      },
      log,
    });
    const metrics = buildMetrics({
      startedMs,
      finishedMs: now(),
      reads,
      tally,
      reading,
      losses,
      failures,
    });
    writeRun(store, {
      accounts: [...tally.accounts.values()],
      proxies: [...tally.proxies.values()],
      pending: [...tally.pending.values()],
      checkpoints: [...book.changed.values()],
      losses,
      watermarkMs: nextWatermark({
        handledMtimes: reads.map((r) => r.file.mtimeMs),
        failedMtimes: failures.failedMtimes,
        previous: state.watermarkMs,
      }),
      metrics,
    });
    commitRun(store);
    await warnOnWrongZone({ reads, config, log });
    log.log("INFO", "run finished", metricsAttrs(metrics));
    return { metrics, losses, errors: failures.errors };
  } catch (e) {
    rollbackRun(store);
    throw e;
  } finally {
    store.db.close();
  }
}
