/**
 * Reading files in order: each is checked in, then its new bytes are applied
 * range by range. With more than one Worker allowed, more than two cores and
 * enough new bytes, plain files are cut into ranges that Workers scan ahead
 * while this thread applies them in order (and scans those no Worker has
 * started).
 *
 * @module
 */

import type { Candidate } from "../input/discover.ts";
import { cutRanges, type Range } from "../input/source.ts";
import { applyRange, type Reading } from "./apply.ts";
import {
  checkIn,
  type CheckpointBook,
  type FileRead,
  markRead,
  type PassedOver,
  type Present,
  settleStates,
  skipUnchanged,
} from "./checkpoints.ts";
import { type Failures, recordFailure } from "./failures.ts";
import { createScanPool, type RangeResult, type RangeTask, type ScanPool } from "./parallel.ts";

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
 * Machines with this many cores or fewer scan on one thread: measured on 2
 * cores over 1,000 MB (issue 15), one Worker beside this thread was slower
 * than one thread on both bench data sets, and 40-110 MB bigger.
 */
export const ONE_THREAD_CORES = 2;

/**
 * The cores a run counts: `CONNTRACKER_CORES` when it is a whole number
 * (a container may be given fewer than it sees, or a test more), else what
 * the system says.
 */
function scanCores(): number {
  let said: string | undefined;
  try {
    said = Deno.env.get("CONNTRACKER_CORES");
  } catch {
    // No permission to read the environment: what the system says.
  }
  const n = Number(said);
  return said && Number.isInteger(n) && n >= 1 ? n : navigator.hardwareConcurrency;
}

/**
 * On more cores than {@link ONE_THREAD_CORES} (not measured here): Workers
 * from 128 MB of new bytes on, in ranges of 8 MB.
 */
export const TUNING: ScanTuning = {
  parallelBytes: 128 << 20,
  rangeBytes: 8 << 20,
  cores: scanCores(),
};

/** Where {@link readFiles} records what it did. */
export interface ReadFilesOptions {
  reading: Reading;
  book: CheckpointBook;
  failures: Failures;
  /** `MaxWorkers`: scanning threads, this one included. */
  maxWorkers: number;
  tuning: ScanTuning;
  /** Files to take as read to their end, unread (the old tool read them). */
  readBefore?: (file: Candidate) => boolean;
  /** Told the new bytes and files to read once they are known, then after each range. */
  onProgress?: (progress: ReadProgress) => void;
}

/** How far {@link readFiles} is; for gzip files bytes count decompressed, so a rough measure. */
export interface ReadProgress {
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

/** A range of a file to read. */
interface Ranged {
  read: FileRead;
  range: Range;
}

/** A range sent to be scanned apart. */
interface Sent {
  task: RangeTask;
  result: Promise<RangeResult>;
  done: boolean;
}

function send(reading: Reading, pool: ScanPool, { read, range }: Ranged): Sent {
  const task: RangeTask = {
    range,
    format: read.format,
    pending: [...reading.tally.pending.values()].map((p) => [p.serverHost, p.connectionId]),
  };
  const sent: Sent = { task, result: pool.scan(task), done: false };
  // Awaited in order; a run that fails first never awaits it.
  sent.result.then(() => sent.done = true, () => sent.done = true);
  return sent;
}

/** Marks a file as read to the end of its ranges. */
function finish(reading: Reading, read: FileRead): void {
  if (read.ranges.length === 0) return;
  const { checkpoint } = read;
  const started = read.ranges[0].from;
  checkpoint.size = Math.max(checkpoint.size, started + read.bytesRead);
  reading.log.log("DEBUG", "read", {
    file: read.file.path,
    from: started,
    to: checkpoint.offset,
    bytes: read.bytesRead,
  });
}

/** The new bytes of these files. For gzip, the offset counts decompressed bytes: a rough measure, never negative. */
function newBytes(reads: FileRead[]): number {
  return reads.reduce((sum, r) => sum + Math.max(0, r.file.size - r.checkpoint.offset), 0);
}

/** Whether the new bytes of these files are worth Workers. */
function scansInParallel(reads: FileRead[], workers: number, tuning: ScanTuning): boolean {
  return workers > 1 && tuning.cores > ONE_THREAD_CORES && newBytes(reads) >= tuning.parallelBytes;
}

/** What {@link readFiles} did with each file. */
export interface FilesRead {
  /** Audit files read to the end of their new bytes (those with nothing new included). */
  reads: FileRead[];
  /** Audit files whose reading failed part way; what was applied before stands. */
  failed: FileRead[];
  /** Files that are no audit log (yet). */
  passedOver: PassedOver[];
}

/**
 * Reads the new bytes of files, in order. Files that fail are recorded in
 * `failures`; the others are read.
 *
 * @example
 * ```ts
 * // runTracking() in run.ts calls it with every file that changed since it was read.
 * ```
 */
export async function readFiles(
  files: Candidate[],
  options: ReadFilesOptions,
): Promise<FilesRead> {
  const { reading, book, failures, tuning } = options;
  const workers = Math.min(options.maxWorkers, tuning.cores);
  const reads: FileRead[] = [];
  const passedOver: PassedOver[] = [];
  const failed = new Set<FileRead>();
  const fail = (read: FileRead, e: unknown) => {
    recordFailure(failures, read.file, e, reading.log);
    failed.add(read);
  };
  for (const file of files) {
    try {
      const read = await checkIn(book, file, reading);
      if ("reason" in read) passedOver.push(read);
      else {
        if (options.readBefore?.(file)) await markRead(read);
        reads.push(read);
      }
    } catch (e) {
      recordFailure(failures, file, e, reading.log);
    }
  }
  // A copy checked in before the file its checkpoint followed gave the checkpoint back.
  for (const read of reads.filter((r) => book.current.get(r.fp) !== r.checkpoint)) {
    reads.splice(reads.indexOf(read), 1);
    passedOver.push({ file: read.file, reason: "a copy of another audit file" });
  }
  const parallel = scansInParallel(reads, workers, tuning);
  if (parallel) {
    for (const read of reads.filter((r) => r.ranges.length === 1 && !r.ranges[0].gzip)) {
      const { path, from } = read.ranges[0];
      try {
        const cuts = await cutRanges(path, from, read.file.size, tuning.rangeBytes);
        read.ranges = cuts.map((cut) => ({ path, gzip: false, ...cut }));
      } catch (e) {
        fail(read, e);
      }
    }
  }
  const all: Ranged[] = reads.filter((read) => !failed.has(read))
    .flatMap((read) => read.ranges.map((range) => ({ read, range })));
  const progress: ReadProgress = {
    bytesDone: 0,
    bytesTotal: newBytes(reads),
    filesDone: reads.filter((r) => r.ranges.length === 0).length,
    filesTotal: reads.length,
  };
  options.onProgress?.({ ...progress });
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
        sent.set(next, send(reading, pool, all[next]));
      }
      const ahead = sent.get(i);
      sent.delete(i);
      while (ahead && !ahead.done && await pool!.helpOut());
      if (failed.has(read)) continue;
      try {
        const scanned = ahead && { task: ahead.task, result: await ahead.result };
        const before = read.bytesRead;
        await applyRange(reading, read, range, scanned);
        progress.bytesDone += read.bytesRead - before;
        if (range === read.ranges.at(-1)) progress.filesDone++;
        options.onProgress?.({ ...progress });
      } catch (e) {
        fail(read, e);
      }
    }
  } finally {
    pool?.close();
  }
  const done = reads.filter((read) => !failed.has(read));
  for (const read of done) finish(reading, read);
  return { reads: done, failed: [...failed], passedOver };
}

/** What {@link lookAtFiles} found. */
export interface FilesLookedAt {
  /** The audit files present, in log order, with their settled checkpoints. */
  present: Present[];
  /** Audit files read (those with nothing new included). */
  reads: FileRead[];
  /** Files that are no audit log (yet). */
  passedOver: PassedOver[];
}

/**
 * Looks at every listed file: skips those unchanged since a run read them
 * (their `stat` says so), reads the new bytes of the others, then settles
 * which may still be written (see `settleStates`).
 *
 * @example
 * ```ts
 * // runTracking() in run.ts calls it with every file the listing returned.
 * ```
 */
export async function lookAtFiles(
  files: Candidate[],
  options: ReadFilesOptions,
): Promise<FilesLookedAt> {
  const { book } = options;
  const present = new Map<Candidate, Present>();
  const changed: Candidate[] = [];
  for (const file of files) {
    const checkpoint = skipUnchanged(book, file);
    if (checkpoint) present.set(file, { file, checkpoint });
    else changed.push(file);
  }
  const done = await readFiles(changed, options);
  for (const r of done.reads) present.set(r.file, { file: r.file, checkpoint: r.checkpoint });
  for (const r of done.failed) {
    present.set(r.file, { file: r.file, checkpoint: r.checkpoint, failed: true });
  }
  const inOrder = files.filter((f) => present.has(f)).map((f) => present.get(f)!);
  settleStates(book, inOrder);
  return {
    present: inOrder.map((p) => ({
      ...p,
      checkpoint: book.current.get(p.checkpoint.fingerprint)!,
    })),
    reads: done.reads,
    passedOver: done.passedOver,
  };
}
