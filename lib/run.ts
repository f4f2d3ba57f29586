/**
 * One tracking run: config → discover files → read new bytes → parse events →
 * aggregate → one SQLite transaction, which also holds the per-file
 * checkpoints and the watermark, so that a run that fails or is killed leaves
 * the database as it was.
 *
 * @module
 */

import { applyRecord, createTally, type Tally } from "./aggregate.ts";
import type { Config } from "./config.ts";
import { type Candidate, databaseFiles, discoverFiles } from "./discover.ts";
import { parseWall } from "./layout.ts";
import type { Logger } from "./log.ts";
import { decodeBinary, parseRecord, scanBlock, type ScanStats } from "./scan.ts";
import { fingerprint, firstLine, type Head, readBlocks, readHead, SourceError } from "./source.ts";
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
} from "./store.ts";
import { clockInstant, createLogClock } from "./zone.ts";

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
 * import { compileLayout } from "./layout.ts";
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

/** A run's working state, shared by the steps below. */
interface Pass {
  config: Config;
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
  const fp = fingerprint(head.bytes);
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

async function readFile(pass: Pass, file: Candidate, head: Head, fp: string): Promise<void> {
  const { config, log, tally } = pass;
  pass.seen.add(fp);
  const known = pass.checkpoints.get(fp);
  let offset = known?.offset ?? 0;
  if (known && !head.gzip && file.size < offset) {
    log.log("WARN", "file is shorter than what was read: reading it from the start", {
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
  if (!head.gzip && file.size === offset) return;
  const clock = createLogClock(
    config.timeFormatAudit,
    config.timeLocation,
    known?.lastInstant ?? pass.previousInstant,
  );
  const instantOf = (text: string) => clockInstant(clock, text);
  const started = offset;
  try {
    const result = await readBlocks(file.path, head.gzip, offset, (block, end) => {
      scanBlock(
        block,
        config.timeFormatAudit.commas,
        tally.watched,
        (r) => applyRecord(tally, r, instantOf),
        pass.scan,
      );
      checkpoint.offset = end;
      checkpoint.lastInstant = clock.previous;
    });
    pass.stats.filesRead++;
    pass.stats.bytesRead += result.bytesRead;
    pass.stats.longLines += result.longLines;
    checkpoint.size = Math.max(checkpoint.size, started + result.bytesRead);
    log.log("DEBUG", "read", {
      file: file.path,
      from: started,
      to: checkpoint.offset,
      bytes: result.bytesRead,
    });
  } finally {
    if (clock.previous !== undefined) pass.previousInstant = clock.previous;
  }
}

async function handle(pass: Pass, file: Candidate): Promise<string | undefined> {
  try {
    const id = await identify(pass, file);
    if (!id) return undefined;
    await readFile(pass, file, id.head, id.fp);
    // Only audit files move the watermark: other files in a data directory change all
    // the time, and an mtime of theirs could pass over lines written to an audit file
    // after it was read.
    pass.handledMtimes.push(file.mtimeMs);
    return id.fp;
  } catch (e) {
    if (!(e instanceof SourceError)) throw e;
    if (/not found/.test(e.message)) {
      pass.log.log("WARN", "file vanished before it was read (rotated?)", { file: file.path });
      return undefined;
    }
    pass.errors.push({ path: e.path, message: e.message });
    pass.failedMtimes.push(file.mtimeMs);
    pass.stats.errors++;
    pass.log.log("ERROR", `audit file ${e.message}`, { file: e.path });
    return undefined;
  }
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
 * import { loadConfig } from "./config.ts";
 * import { createLogger } from "./log.ts";
 * const config = await loadConfig("/etc/conntracker/conntracker.ini");
 * const summary = await runTracking(config, createLogger(config.logLevel));
 * ```
 * @throws {import("./discover.ts").DiscoveryError} when `AuditLogPath` cannot be read, and
 * `StoreError` when the database cannot be used; the database is then
 * left as it was.
 */
export async function runTracking(config: Config, log: Logger): Promise<RunSummary> {
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
    for (const file of files) {
      if (file.mtimeMs > watermark) await handle(pass, file);
      else skipped.push(file);
    }
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
      const fp = await handle(pass, file);
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
