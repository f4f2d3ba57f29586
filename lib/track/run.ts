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

import { DatabaseSync } from "node:sqlite";
import type { Config } from "../config.ts";
import { formatChoice } from "../format/identify.ts";
import {
  type Candidate,
  databaseFiles,
  discoverFiles,
  type DiscoverOptions,
  inScope,
} from "../input/discover.ts";
import { journalName } from "../input/journal.ts";
import type { Logger } from "../log.ts";
import { guard, type OpenOptions, openStore, type Store, storeExists } from "../store/database.ts";
import { readState, writeRun } from "../store/run_writes.ts";
import { beginRun, commitRun, rollbackRun } from "../store/schema.ts";
import type { Activity } from "./account_table.ts";
import { createTally, type Tally } from "./aggregate.ts";
import { createReading, type Reading } from "./apply.ts";
import { createCheckpointBook, type FileRead } from "./checkpoints.ts";
import type { Failures } from "./failures.ts";
import { detectLosses, type Loss } from "./losses.ts";
import { type FileOutcome, metricsAttrs, type RunMetrics } from "./metrics.ts";
import {
  type FilesLookedAt,
  lookAtFiles,
  type ReadProgress,
  type ScanTuning,
  TUNING,
} from "./schedule.ts";
import { NO_AUDIT_LOG, type Notice, noticeNoAuditLog } from "./notices.ts";
import { nextWatermark } from "./watermark.ts";
import { warnOnWrongZone } from "./zone_warning.ts";
import { type JournalOutcome, readJournalEntries } from "./journal.ts";

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
  /** Read and count, then roll back: the database is left as it was (not created if missing). */
  dryRun?: boolean;
  /** Told how far reading the files newer than the watermark is. */
  onProgress?: (progress: ReadProgress) => void;
}

/** The metrics record of a run, built once from what its parts counted. */
function buildMetrics(parts: {
  startedMs: number;
  finishedMs: number;
  files: FileOutcome[];
  reads: FileRead[];
  tally: Tally;
  reading: Reading;
  losses: Loss[];
  failures: Failures;
  auditFiles: number;
  /** Accounts in the database before the run, and how many of those with activity it held. */
  accounts: { total: number; known: number };
  watermark: { before?: number; after?: number };
  dryRun: boolean;
  journal?: JournalOutcome;
}): RunMetrics {
  const withBytes = parts.reads.filter((r) => r.ranges.length > 0);
  const { counts } = parts.tally;
  return {
    startedMs: parts.startedMs,
    finishedMs: parts.finishedMs,
    filesRead: withBytes.length,
    bytesRead: withBytes.reduce((sum, r) => sum + r.bytesRead, 0) + (parts.journal?.bytes ?? 0),
    logins: counts.logins,
    failed: counts.failed,
    malformed: parts.reading.scan.malformed + counts.badTimestamp,
    badTimestamps: counts.badTimestamp,
    longLines: withBytes.reduce((sum, r) => sum + r.longLines, 0),
    emptyUser: counts.emptyUser,
    changeUsersResolved: counts.changeUsersResolved,
    changeUsersDropped: counts.changeUsersDropped,
    changeUsersPending: parts.tally.pending.size,
    candidates: parts.reading.scan.candidates,
    rescans: parts.reading.rescans,
    losses: parts.losses.length,
    errors: parts.failures.errors.length,
    auditFiles: parts.auditFiles,
    files: parts.files,
    accountsInserted: parts.tally.accounts.size - parts.accounts.known,
    accountsUpdated: parts.accounts.known,
    accountsTotal: parts.accounts.total + parts.tally.accounts.size - parts.accounts.known,
    watermarkBeforeMs: parts.watermark.before,
    watermarkAfterMs: parts.watermark.after,
    dryRun: parts.dryRun,
  };
}

/** Every file listed, read or passed over, and why. */
function fileOutcomes(
  files: Candidate[],
  looked: FilesLookedAt,
  failures: Failures,
): FileOutcome[] {
  const read = new Map(looked.reads.map((r) => [r.file.path, r]));
  const passed = new Map(looked.passedOver.map((p) => [p.file.path, p.reason]));
  const failed = new Set(failures.errors.map((e) => e.path));
  return files.map((file): FileOutcome => {
    const r = read.get(file.path);
    if (r && r.ranges.length > 0) return { path: file.path, bytes: r.bytesRead };
    const reason = failed.has(file.path)
      ? "unreadable"
      : passed.get(file.path) ?? (r ? "nothing new" : "unchanged");
    return { path: file.path, bytes: 0, passed: reason };
  });
}

/**
 * Opens the database for a run that will roll back: a missing one is not
 * created (an empty one in memory stands in), and the journal mode is left as
 * it is (switching the old tool's database to WAL would rewrite its header).
 */
function openForDryRun(path: string, options: OpenOptions): Store {
  if (!storeExists(path)) return openStore(":memory:", options);
  return guard(path, () => {
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA busy_timeout = ${Math.floor(options.lockTimeoutMs)}`);
    return { db, path, times: options.times };
  });
}

/** Accounts in `activity`, and how many of `accounts` it holds. */
function countAccounts(
  store: Store,
  accounts: Iterable<Activity>,
): { total: number; known: number } {
  return guard(store.path, () => {
    const { db } = store;
    const total = Number(
      (db.prepare("SELECT count(*) AS n FROM activity").get() as { n: number }).n,
    );
    let known = 0;
    if (total === 0) return { total, known };
    const has = db.prepare("SELECT 1 FROM activity WHERE name = ? AND host = ?");
    for (const a of accounts) if (has.get(a.user, a.host)) known++;
    return { total, known };
  });
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
  const { config, log, tuning = TUNING, now = Date.now, dryRun = false } = options;
  const startedMs = now();
  const times = { layout: config.timeFormatDb, zone: config.timeLocation };
  const store = dryRun
    ? openForDryRun(config.sqlitePath, { lockTimeoutMs: config.lockTimeoutMs, times })
    : openStore(config.sqlitePath, { lockTimeoutMs: config.lockTimeoutMs, times });
  try {
    beginRun(store);
    const state = readState(store);
    const discover: DiscoverOptions = {
      path: config.auditLogPath,
      name: config.auditLogFile,
      recursive: config.auditLogRecursive,
      exclude: databaseFiles(config.sqlitePath),
    };
    const fromJournal = config.auditSource === "journal";
    const { files, errors: listErrors } = fromJournal
      ? { files: [], errors: [] }
      : discoverFiles(discover);
    for (const e of listErrors) log.log("ERROR", `audit file ${e.message}`, { file: e.path });
    const tally = createTally(state.pending);
    const formats = formatChoice({
      auditFormat: config.auditFormat,
      timestamp: config.timeFormatAudit,
      syslogIdent: config.syslogIdent,
    });
    const zone = config.timeLocation;
    const reading = createReading({ tally, formats, zone, log });
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
      onProgress: options.onProgress,
    });
    const source = {
      journalctl: config.journalctl,
      file: config.journalFile,
      directory: config.journalDirectory,
      ident: config.syslogIdent,
    };
    const journal = fromJournal
      ? await readJournalEntries({
        reading,
        source: { ...source, cursor: state.journalCursors.get(journalName(source)) },
        failures,
      })
      : undefined;
    // The journal has no files whose checkpoints could vanish: its losses are its own.
    const losses = journal ? journal.losses : await detectLosses({
      book,
      present,
      inScope: (path) => inScope(discover, path),
      failures,
      lastRunMs: state.lastRunMs,
      formats,
      zone,
      log,
    });
    const notices: Notice[] = state.notices.filter((n) => n.kind !== NO_AUDIT_LOG);
    if (present.length === 0 && !journal) {
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
    const watermarkMs = nextWatermark({
      handledMtimes: present.filter((p) => !p.failed).map((p) => p.file.mtimeMs),
      failedMtimes: failures.files.map((f) => f.mtimeMs),
      previous: state.watermarkMs,
    });
    const metrics = buildMetrics({
      startedMs,
      finishedMs: now(),
      files: fileOutcomes(files, { present, reads, passedOver }, failures),
      reads,
      tally,
      reading,
      losses,
      failures,
      // The journal is the one audit source of a journal run (its failure is an error).
      auditFiles: journal ? 1 : present.length,
      accounts: countAccounts(store, tally.accounts),
      watermark: { before: state.watermarkMs, after: watermarkMs ?? state.watermarkMs },
      dryRun,
      journal,
    });
    writeRun(store, {
      accounts: tally.accounts,
      proxies: [...tally.proxies.values()],
      pending: [...tally.pending.values()],
      checkpoints: [...book.changed.values()],
      losses,
      watermarkMs,
      journalCursor: journal?.cursor === undefined
        ? undefined
        : { source: journal.source, cursor: journal.cursor },
      metrics,
      notices,
    });
    if (dryRun) rollbackRun(store);
    else commitRun(store);
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
