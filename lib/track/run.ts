/**
 * One tracking run: config → discover files → read new bytes → parse events →
 * aggregate → one SQLite transaction, which also holds the per-file
 * checkpoints and the watermark, so that a run that fails or is killed leaves
 * the database as it was.
 *
 * @module
 */

import { applyRecord, createTally, pendingKey, type Tally } from "./aggregate.ts";
import type { Config } from "../config.ts";
import { type Candidate, databaseFiles, discoverFiles } from "../input/discover.ts";
import { parseWall } from "../time/layout.ts";
import type { Logger } from "../log.ts";
import {
  createScanPool,
  type Range,
  type RangeResult,
  type RangeTask,
  type ScanPool,
  scanRange,
} from "./parallel.ts";
import { type AuditRecord, decodeBinary, parseRecord, type ScanStats } from "../format/scan.ts";
import {
  cutRanges,
  fingerprint,
  firstLine,
  type Head,
  readHead,
  SourceError,
} from "../input/source.ts";
import {
  beginRun,
  type Checkpoint,
  commitRun,
  type Loss,
  openStore,
  readState,
  rollbackRun,
  type RunStats,
  writeRun,
} from "../store/schema.ts";
import { clockInstant, createLogClock, type LogClock } from "../time/zone.ts";

/** What a run did. */
export interface RunSummary {
  stats: RunStats;
  losses: Loss[];
  /** Files that could not be read; the others were. */
  errors: { path: string; message: string }[];
}

/**
 * Whether a file's first line is an audit event with a timestamp in the
 * configured layout.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * const layout = compileLayout("20060102 15:04:05");
 * const bytes = new TextEncoder().encode("20261124 23:52:24,vm,root,localhost,3,0,CONNECT,,,0\n");
 * looksLikeAuditLog({ gzip: false, bytes }, layout); // true
 * ```
 */
export function looksLikeAuditLog(head: Head, layout: Config["timeFormatAudit"]): boolean {
  const line = firstLine(head.bytes);
  if (line === undefined) return false;
  const record = parseRecord(decodeBinary(line), layout.commas);
  if (!record) return false;
  const parsed = parseWall(layout, record.timestamp);
  return parsed !== undefined && parsed.end === record.timestamp.length;
}

/** When a run scans in Workers; tests set small values to force it. */
export interface ScanTuning {
  /** Workers start only when the files to read have this many new bytes. */
  parallelBytes: number;
  /** Plain files are cut into ranges of about this size, one per task. */
  rangeBytes: number;
  /** Scanning threads never outnumber these (nor `MaxWorkers`). */
  cores: number;
}

/**
 * Measured on 2 cores: one Worker beside this thread gains nothing at 100 MB
 * of new bytes, about 5% at 200 MB and 20% at 1 GB.
 */
const TUNING: ScanTuning = {
  parallelBytes: 128 << 20,
  rangeBytes: 8 << 20,
  cores: navigator.hardwareConcurrency,
};

/** A run's working state, shared by the steps below. */
interface Pass {
  config: Config;
  tuning: ScanTuning;
  log: Logger;
  tally: Tally;
  scan: ScanStats;
  stats: RunStats;
  checkpoints: Map<string, Checkpoint>;
  changed: Map<string, Checkpoint>;
  seen: Set<string>;
  errors: { path: string; message: string }[];
  /** Modification times of audit files read this run, and of files that failed. */
  handledMtimes: number[];
  failedMtimes: number[];
  /** The instant of the last timestamp of the file read before, for the DST rule. */
  previousInstant?: number;
}

async function identify(
  pass: Pass,
  file: Candidate,
): Promise<{ head: Head; fp: string } | undefined> {
  const head = await readHead(file.path);
  const fp = await fingerprint(head.bytes);
  if (fp === undefined) {
    pass.log.log("DEBUG", "no complete first line yet", { file: file.path });
    return undefined;
  }
  if (!looksLikeAuditLog(head, pass.config.timeFormatAudit)) {
    pass.log.log("DEBUG", "not an audit log", { file: file.path });
    return undefined;
  }
  return { head, fp };
}

/** One audit file to read this run. */
interface FileRead {
  file: Candidate;
  fp: string;
  checkpoint: Checkpoint;
  /** Its new bytes, in ranges; none when nothing is new. */
  ranges: Range[];
  /** Converts its timestamps, in log order; made when its first range is applied. */
  clock?: LogClock;
  bytesRead: number;
  longLines: number;
}

/** Records a file that could not be read (or vanished, which is no error). */
function fail(pass: Pass, file: Candidate, e: unknown): void {
  if (!(e instanceof SourceError)) throw e;
  if (/not found/.test(e.message)) {
    pass.log.log("WARN", "file vanished before it was read (rotated?)", { file: file.path });
    return;
  }
  pass.errors.push({ path: e.path, message: e.message });
  pass.failedMtimes.push(file.mtimeMs);
  pass.stats.errors++;
  pass.log.log("ERROR", `audit file ${e.message}`, { file: e.path });
}

/** Identifies a file and plans the reading of its new bytes; `undefined` when it is no audit log. */
async function plan(pass: Pass, file: Candidate): Promise<FileRead | undefined> {
  const id = await identify(pass, file);
  if (!id) return undefined;
  const { head, fp } = id;
  pass.seen.add(fp);
  const known = pass.checkpoints.get(fp);
  let offset = known?.offset ?? 0;
  if (known && !head.gzip && file.size < offset) {
    pass.log.log("WARN", "file is shorter than what was read: reading it from the start", {
      file: file.path,
      size: file.size,
      checkpoint: offset,
    });
    offset = 0;
  }
  const checkpoint: Checkpoint = {
    fingerprint: fp,
    path: file.path,
    dev: file.dev,
    ino: file.ino,
    gzip: head.gzip,
    size: head.gzip ? Math.max(known?.size ?? 0, offset) : file.size,
    offset,
    mtimeMs: file.mtimeMs,
    lastInstant: known?.lastInstant,
    seenMs: Date.now(),
  };
  pass.checkpoints.set(fp, checkpoint);
  pass.changed.set(fp, checkpoint);
  const ranges = head.gzip || file.size > offset
    ? [{ path: file.path, gzip: head.gzip, from: offset }]
    : [];
  return { file, fp, checkpoint, ranges, bytesRead: 0, longLines: 0 };
}

/** The instant converter of a file, made when its first range is applied (after the file before it). */
function clockOf(pass: Pass, read: FileRead): LogClock {
  read.clock ??= createLogClock(
    pass.config.timeFormatAudit,
    pass.config.timeLocation,
    read.checkpoint.lastInstant ?? pass.previousInstant,
  );
  return read.clock;
}

/**
 * Applies one range of a file, in log order: the records a Worker found, or,
 * when there are none or the Worker did not know of a pending change-user,
 * those of a scan on this thread.
 */
async function applyRange(
  pass: Pass,
  read: FileRead,
  range: Range,
  task?: RangeTask,
  scanned?: RangeResult,
): Promise<void> {
  const { tally, config } = pass;
  const clock = clockOf(pass, read);
  const instantOf = (text: string) => clockInstant(clock, text);
  const apply = (record: AuditRecord) => applyRecord(tally, record, instantOf);
  const advance = (end: number) => {
    read.checkpoint.offset = end;
    read.checkpoint.lastInstant = clock.previous;
    if (clock.previous !== undefined) pass.previousInstant = clock.previous;
  };
  const known = new Set(task?.pending.map(([host, id]) => pendingKey(host, id)));
  if (scanned && [...tally.pending.keys()].every((key) => known.has(key))) {
    const { lines } = scanned;
    for (let start = 0, end; (end = lines.indexOf("\n", start)) !== -1; start = end + 1) {
      apply(parseRecord(lines.slice(start, end), config.timeFormatAudit.commas)!);
    }
    advance(scanned.offset);
    pass.scan.candidates += scanned.stats.candidates;
    pass.scan.malformed += scanned.stats.malformed;
    if (scanned.error) throw new SourceError(range.path, scanned.error);
    read.bytesRead += scanned.bytesRead;
    read.longLines += scanned.longLines;
    return;
  }
  if (scanned) {
    pass.log.log(
      "DEBUG",
      "scanning a range again: a change-user is pending that its Worker missed",
      {
        file: range.path,
        from: range.from,
      },
    );
  }
  const commas = config.timeFormatAudit.commas;
  const result = await scanRange(range, commas, tally.watched, apply, pass.scan, advance);
  read.bytesRead += result.bytesRead;
  read.longLines += result.longLines;
}

/** Marks a file as read to the end of its ranges. */
function finish(pass: Pass, read: FileRead): void {
  // Only audit files move the watermark: other files in a data directory change all
  // the time, and an mtime of theirs could pass over lines written to an audit file
  // after it was read.
  pass.handledMtimes.push(read.file.mtimeMs);
  if (read.ranges.length === 0) return;
  const { checkpoint } = read;
  const started = read.ranges[0].from;
  pass.stats.filesRead++;
  pass.stats.bytesRead += read.bytesRead;
  pass.stats.longLines += read.longLines;
  checkpoint.size = Math.max(checkpoint.size, started + read.bytesRead);
  pass.log.log("DEBUG", "read", {
    file: read.file.path,
    from: started,
    to: checkpoint.offset,
    bytes: read.bytesRead,
  });
}

/** A range sent to be scanned apart. */
interface Sent {
  task: RangeTask;
  result: Promise<RangeResult>;
  done: boolean;
}

function send(pass: Pass, pool: ScanPool, range: Range): Sent {
  const task: RangeTask = {
    range,
    timestampCommas: pass.config.timeFormatAudit.commas,
    pending: [...pass.tally.pending.values()].map((p) => [p.serverHost, p.connectionId]),
  };
  const sent: Sent = { task, result: pool.scan(task), done: false };
  // Awaited in order; a run that fails first never awaits it.
  sent.result.then(() => sent.done = true, () => sent.done = true);
  return sent;
}

/**
 * Reads the new bytes of audit files, in order, and returns the fingerprints
 * of those read. With more than one Worker allowed and enough new bytes,
 * Workers scan ranges ahead while this thread applies them in order.
 */
async function readFiles(pass: Pass, files: Candidate[]): Promise<string[]> {
  const { tuning } = pass;
  const workers = Math.min(pass.config.maxWorkers, tuning.cores);
  const reads: FileRead[] = [];
  const failed = new Set<FileRead>();
  for (const file of files) {
    try {
      const read = await plan(pass, file);
      if (read) reads.push(read);
    } catch (e) {
      fail(pass, file, e);
    }
  }
  // For gzip, the offset counts decompressed bytes: a rough measure, never negative.
  const newBytes = reads.reduce(
    (sum, r) => sum + Math.max(0, r.file.size - r.checkpoint.offset),
    0,
  );
  const parallel = workers > 1 && newBytes >= tuning.parallelBytes;
  if (parallel) {
    for (const read of reads.filter((r) => r.ranges.length === 1 && !r.ranges[0].gzip)) {
      const { path, from } = read.ranges[0];
      try {
        const cuts = await cutRanges(path, from, read.file.size, tuning.rangeBytes);
        read.ranges = cuts.map((cut) => ({ path, gzip: false, ...cut }));
      } catch (e) {
        fail(pass, read.file, e);
        failed.add(read);
      }
    }
  }
  const all = reads.filter((read) => !failed.has(read))
    .flatMap((read) => read.ranges.map((range) => ({ read, range })));
  const pool = parallel && all.length > 1
    ? createScanPool(Math.min(workers, all.length) - 1)
    : undefined;
  // Ranges sent ahead, by index: at most four per scanning thread wait to be applied,
  // which bounds memory. This thread scans those no Worker has started while it waits.
  const sent = new Map<number, Sent>();
  let next = 0;
  try {
    for (const [i, { read, range }] of all.entries()) {
      for (; pool && next < all.length && next < i + 4 * workers; next++) {
        sent.set(next, send(pass, pool, all[next].range));
      }
      const ahead = sent.get(i);
      sent.delete(i);
      while (ahead && !ahead.done && await pool!.helpOut());
      if (failed.has(read)) continue;
      try {
        await applyRange(pass, read, range, ahead?.task, await ahead?.result);
      } catch (e) {
        fail(pass, read.file, e);
        failed.add(read);
      }
    }
  } finally {
    pool?.close();
  }
  const done = reads.filter((read) => !failed.has(read));
  for (const read of done) finish(pass, read);
  return done.map((read) => read.fp);
}

/** The watermark after a run: the newest audit file read, whole seconds, never at or past a file that failed. */
function nextWatermark(pass: Pass, previous: number | undefined): number | undefined {
  if (pass.handledMtimes.length === 0) return undefined;
  let mark = Math.floor(Math.max(...pass.handledMtimes) / 1000) * 1000;
  for (const failed of pass.failedMtimes) {
    mark = Math.min(mark, Math.ceil(failed / 1000) * 1000 - 1000);
  }
  return previous === undefined || mark > previous ? mark : undefined;
}

/**
 * Runs one tracking pass with the given config.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * const config = await loadConfig("/etc/conntracker/conntracker.ini");
 * const summary = await runTracking(config, createLogger(config.logLevel));
 * ```
 * @throws {import("../input/discover.ts").DiscoveryError} when `AuditLogPath` cannot be read, and
 * `StoreError` when the database cannot be used; the database is then
 * left as it was.
 */
export async function runTracking(
  config: Config,
  log: Logger,
  tuning: ScanTuning = TUNING,
): Promise<RunSummary> {
  const startedMs = Date.now();
  const db = openStore(config.sqlitePath, config.lockTimeoutMs);
  try {
    beginRun(db, config.sqlitePath);
    const state = readState(db, config.sqlitePath, config.timeFormatDb, config.timeLocation);
    const { files, errors: listErrors } = await discoverFiles({
      path: config.auditLogPath,
      name: config.auditLogFile,
      recursive: config.auditLogRecursive,
      exclude: databaseFiles(config.sqlitePath),
    });
    const pass: Pass = {
      config,
      tuning,
      log,
      tally: createTally(state.pending),
      scan: { candidates: 0, malformed: 0 },
      stats: {
        startedMs,
        filesRead: 0,
        bytesRead: 0,
        logins: 0,
        failed: 0,
        malformed: 0,
        longLines: 0,
        emptyUser: 0,
        errors: listErrors.length,
      },
      checkpoints: new Map(state.checkpoints.map((c) => [c.fingerprint, c])),
      changed: new Map(),
      seen: new Set(),
      errors: listErrors.map((e) => ({ path: e.path, message: e.message })),
      handledMtimes: [],
      failedMtimes: [],
    };
    for (const e of listErrors) log.log("ERROR", `audit file ${e.message}`, { file: e.path });
    const watermark = state.watermarkMs ?? -Infinity;
    const skipped: Candidate[] = [];
    const recent: Candidate[] = [];
    for (const file of files) (file.mtimeMs > watermark ? recent : skipped).push(file);
    await readFiles(pass, recent);
    const losses = await findLosses(pass, skipped, state.checkpoints);
    const t = pass.tally;
    pass.stats.logins = t.counts.logins;
    pass.stats.failed = t.counts.failed;
    pass.stats.malformed = pass.scan.malformed + t.counts.badTimestamp;
    pass.stats.emptyUser = t.counts.emptyUser;
    writeRun(
      db,
      config.sqlitePath,
      {
        accounts: [...t.accounts.values()],
        proxies: [...t.proxies.values()],
        pending: [...t.pending.values()],
        checkpoints: [...pass.changed.values()],
        losses,
        watermarkMs: nextWatermark(pass, state.watermarkMs),
        stats: pass.stats,
      },
      config.timeFormatDb,
      config.timeLocation,
    );
    commitRun(db, config.sqlitePath);
    log.log("INFO", "run finished", {
      files: pass.stats.filesRead,
      bytes: pass.stats.bytesRead,
      logins: t.counts.logins,
      failed: t.counts.failed,
      change_users_pending: t.pending.size,
      malformed: pass.stats.malformed,
      long_lines: pass.stats.longLines,
      empty_user: t.counts.emptyUser,
      ms: Date.now() - startedMs,
    });
    return { stats: pass.stats, losses, errors: pass.errors };
  } catch (e) {
    rollbackRun(db);
    throw e;
  } finally {
    db.close();
  }
}

/**
 * Finds checkpointed files that vanished with bytes unread. Files skipped for
 * their age are looked at first (by inode, then by content), so that a file
 * renamed or compressed with bytes unread is read, not reported.
 */
async function findLosses(
  pass: Pass,
  skipped: Candidate[],
  stored: Checkpoint[],
): Promise<Loss[]> {
  for (const file of skipped) {
    const same = stored.find((c) =>
      c.dev === file.dev && c.ino === file.ino && !c.gzip && c.size === file.size
    );
    if (same && !pass.changed.has(same.fingerprint)) {
      pass.seen.add(same.fingerprint);
      pass.changed.set(same.fingerprint, { ...same, path: file.path, seenMs: Date.now() });
    }
  }
  const unread = () => stored.filter((c) => c.size > c.offset && !pass.seen.has(c.fingerprint));
  if (unread().length > 0) {
    for (const file of skipped) {
      if (unread().length === 0) break;
      const [fp] = await readFiles(pass, [file]);
      if (fp) pass.log.log("INFO", "read unread bytes of an older file", { file: file.path });
    }
  }
  const losses: Loss[] = [];
  for (const c of unread()) {
    const loss: Loss = {
      path: c.path,
      fingerprint: c.fingerprint,
      unreadBytes: c.size - c.offset,
      from: c.lastInstant,
      to: c.mtimeMs,
    };
    losses.push(loss);
    pass.changed.set(c.fingerprint, { ...c, offset: c.size });
    pass.log.log("ERROR", "audit file removed before it was read to the end: events lost", {
      file: c.path,
      unread_bytes: loss.unreadBytes,
      from: loss.from === undefined ? undefined : new Date(loss.from).toISOString(),
      to: new Date(loss.to).toISOString(),
    });
  }
  return losses;
}
