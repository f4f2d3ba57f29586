/**
 * Which files a run reads and from where: each file is identified (its
 * fingerprint, and whether it is an audit log at all), then its checkpoint
 * says which of its bytes are new. The book of checkpoints is what the run
 * writes back.
 *
 * @module
 */

import { type FormatChoice, formatOfFile, mayStartInForm } from "../format/identify.ts";
import type { LineFormat } from "../format/line.ts";
import type { Candidate } from "../input/discover.ts";
import { fingerprint, readHead } from "../input/head.ts";
import type { Logger } from "../log.ts";
import type { LogClock } from "../time/clock.ts";
import type { Range } from "../input/source.ts";

/** How far one audit file has been read. */
export interface Checkpoint {
  /** SHA-256 of the file's first line: its identity across renames and compression. */
  fingerprint: string;
  /** Where it was last seen. */
  path: string;
  dev: number;
  ino: number;
  gzip: boolean;
  /** Its size when last seen (plain files). */
  size: number;
  /** Bytes consumed: the end of the last complete line read. */
  offset: number;
  mtimeMs: number;
  /** The instant of the last timestamp read from it. */
  lastInstant?: number;
  /** When a run last saw it, epoch milliseconds. */
  seenMs: number;
}

/** The checkpoints of a run: as stored, as they stand now, and what changed. */
export interface CheckpointBook {
  /** As the run found them. */
  stored: readonly Checkpoint[];
  /** By fingerprint, as they stand now. */
  current: Map<string, Checkpoint>;
  /** By fingerprint: those to write. */
  changed: Map<string, Checkpoint>;
  /** Fingerprints of files found this run. */
  seen: Set<string>;
  /** When the run saw the files, epoch milliseconds. */
  nowMs: number;
}

/**
 * A book starting from the stored checkpoints.
 *
 * @example
 * ```ts
 * createCheckpointBook([], Date.now()).changed.size; // 0
 * ```
 */
export function createCheckpointBook(stored: Checkpoint[], nowMs: number): CheckpointBook {
  return {
    stored,
    current: new Map(stored.map((c) => [c.fingerprint, c])),
    changed: new Map(),
    seen: new Set(),
    nowMs,
  };
}

/** One audit file to read this run. */
export interface FileRead {
  file: Candidate;
  /** The form its lines are in (`AuditFormat` `auto`: decided by its first line). */
  format: LineFormat;
  fp: string;
  checkpoint: Checkpoint;
  /** Its new bytes, in ranges; none when nothing is new. */
  ranges: Range[];
  /** Converts its timestamps, in log order; made when its first range is applied. */
  clock?: LogClock;
  bytesRead: number;
  longLines: number;
}

/**
 * Records a file in the book (found, and its checkpoint as it stands) and
 * says which of its bytes to read; `undefined` when it is no audit log, or
 * has no complete first line yet.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { lineFormat } from "../format/line.ts";
 * import { createLogger } from "../log.ts";
 * import { discoverFiles } from "../input/discover.ts";
 * const { files } = await discoverFiles({ path: "/var/lib/mysql", recursive: false, exclude: [] });
 * const file = lineFormat(compileLayout("20060102 15:04:05"));
 * const read = await checkIn(createCheckpointBook([], Date.now()), files[0], {
 *   formats: { file },
 *   log: createLogger("WARN"),
 * });
 * ```
 * @throws {import("../input/file.ts").SourceError} when the file cannot be read.
 */
export async function checkIn(
  book: CheckpointBook,
  file: Candidate,
  options: { formats: FormatChoice; log: Logger },
): Promise<FileRead | undefined> {
  const { log, formats } = options;
  const head = await readHead(file.path, { readOn: (start) => mayStartInForm(start, formats) });
  const fp = await fingerprint(head.bytes);
  if (fp === undefined) {
    log.log("DEBUG", "no complete first line yet", { file: file.path });
    return undefined;
  }
  const format = formatOfFile(head, formats);
  if (!format) {
    log.log("DEBUG", "not an audit log", { file: file.path });
    return undefined;
  }
  book.seen.add(fp);
  const known = book.current.get(fp);
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
    seenMs: book.nowMs,
  };
  book.current.set(fp, checkpoint);
  book.changed.set(fp, checkpoint);
  const ranges = head.gzip || file.size > offset
    ? [{ path: file.path, gzip: head.gzip, from: offset }]
    : [];
  return { file, format, fp, checkpoint, ranges, bytesRead: 0, longLines: 0 };
}
