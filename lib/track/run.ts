/**
 * One tracking run: discover files → skip those unchanged since they were
 * read (one `stat` each) → read the new bytes of the others → settle which
 * files may still be written → find what rotation removed → one SQLite
 * transaction with the activity, the checkpoints, the watermark, the notices
 * and the run's metrics, so that a run that fails or is killed leaves the
 * database as it was.
 *
 * @module
 */

import type { Config } from "../config.ts";
import { lineFormat } from "../format/line.ts";
import { databaseFiles, discoverFiles, type DiscoverOptions, inScope } from "../input/discover.ts";
import type { Logger } from "../log.ts";
import { openStore } from "../store/database.ts";
import { readState, writeRun } from "../store/run_writes.ts";
import { beginRun, commitRun, rollbackRun } from "../store/schema.ts";
import { createTally, type Tally } from "./aggregate.ts";
import { createReading, type Reading } from "./apply.ts";
import { createCheckpointBook, type FileRead } from "./checkpoints.ts";
import type { Failures } from "./failures.ts";
import { detectLosses, type Loss } from "./losses.ts";
import { metricsAttrs, type RunMetrics } from "./metrics.ts";
import { lookAtFiles, type ScanTuning, TUNING } from "./schedule.ts";
import { NO_AUDIT_LOG, type Notice, noticeNoAuditLog } from "./notices.ts";
import { nextWatermark } from "./watermark.ts";

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
    const discover: DiscoverOptions = {
      path: config.auditLogPath,
      name: config.auditLogFile,
      recursive: config.auditLogRecursive,
      exclude: databaseFiles(config.sqlitePath),
    };
    const { files, errors: listErrors } = await discoverFiles(discover);
    for (const e of listErrors) log.log("ERROR", `audit file ${e.message}`, { file: e.path });
    const tally = createTally(state.pending);
    const format = lineFormat(config.timeFormatAudit);
    const zone = config.timeLocation;
    const reading = createReading({ tally, format, zone, log });
    const book = createCheckpointBook(state.checkpoints, startedMs);
    const failures: Failures = {
      errors: listErrors.map((e) => ({ path: e.path, message: e.message })),
      files: [],
      vanishedMidRun: false,
    };
    // Right after an old tool's database is migrated (no run of ours yet), the files not
    // newer than its watermark are those it read.
    const oldToolMs = state.lastRunMs === undefined ? state.watermarkMs : undefined;
    const { present, reads, passedOver } = await lookAtFiles(files, {
      reading,
      book,
      failures,
      maxWorkers: config.maxWorkers,
      tuning,
      readBefore: oldToolMs === undefined ? undefined : (file) => file.mtimeMs <= oldToolMs,
    });
    const losses = await detectLosses({
      book,
      present,
      inScope: (path) => inScope(discover, path),
      failures,
      lastRunMs: state.lastRunMs,
      format,
      zone,
      log,
    });
    const notices: Notice[] = state.notices.filter((n) => n.kind !== NO_AUDIT_LOG);
    if (present.length === 0) {
      notices.push(noticeNoAuditLog({
        path: config.auditLogPath,
        name: config.auditLogFile,
        listed: files.length,
        passedOver,
        failures,
        stored: state.notices.find((n) => n.kind === NO_AUDIT_LOG),
        nowMs: startedMs,
        log,
      }));
    }
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
        handledMtimes: present.filter((p) => !p.failed).map((p) => p.file.mtimeMs),
        failedMtimes: failures.files.map((f) => f.mtimeMs),
        previous: state.watermarkMs,
      }),
      metrics,
      notices,
    });
    commitRun(store);
    log.log("INFO", "run finished", metricsAttrs(metrics));
    return { metrics, losses, errors: failures.errors };
  } catch (e) {
    rollbackRun(store);
    throw e;
  } finally {
    store.db.close();
  }
}
