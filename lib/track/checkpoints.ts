/**
 * Which files a run reads and from where. Every listed file is looked at: one
 * whose device, inode, size and modification time are those of its
 * checkpoint is skipped without being opened; any other is identified (its
 * fingerprint, and whether it is an audit log at all) and read from its
 * checkpoint, whatever its modification time. The book of checkpoints is what
 * the run writes back.
 *
 * @module
 */

import { type FormatChoice, formatOfFile, mayStartInForm } from "../format/identify.ts";
import type { LineFormat } from "../format/line.ts";
import { DEFAULT_SYSLOG_IDENT } from "../format/syslog.ts";
import { type Candidate, chainOf } from "../input/discover.ts";
import { closeQuietly, gzipChunks, openFile, sourceError } from "../input/file.ts";
import { fingerprint, type Head, readHead } from "../input/head.ts";
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
  /**
   * Its size on disk (compressed, for gzip) when a run last read it to the
   * end; `undefined` when it must be opened again. With the same device,
   * inode and modification time, the file is unchanged.
   */
  fileSize?: number;
  /** The instant of the last timestamp read from it. */
  lastInstant?: number;
  /** When a run last saw it, epoch milliseconds. */
  seenMs: number;
  /** See {@link CheckpointState}. */
  state: CheckpointState;
}

/**
 * Whether a file may have been written after a run last read it: `open` when
 * it was the newest audit file of its chain, had bytes not yet read (a partial
 * last line, a failed read) or grew while it was read; `closed` otherwise;
 * `gone` once a run found it removed. An open file that is gone may have taken
 * events with it.
 */
export type CheckpointState = "open" | "closed" | "gone";

/** A checkpoint's `seenMs` is written again at most this often while its file is unchanged. */
const SEEN_REFRESH_MS = 86_400_000;

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
  /** Stored checkpoints by device, inode, size on disk and modification time. */
  byIdentity: Map<string, Checkpoint>;
}

function identity(dev: number, ino: number, size: number, mtimeMs: number): string {
  return `${dev}:${ino}:${size}:${Math.floor(mtimeMs)}`;
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
    byIdentity: new Map(
      stored.filter((c) => c.fileSize !== undefined && c.state !== "gone")
        .map((c) => [identity(c.dev, c.ino, c.fileSize!, c.mtimeMs), c]),
    ),
  };
}

/**
 * Finds the checkpoint of a file that has not changed since a run read it to
 * the end (same device, inode, size on disk and modification time), records
 * it as found, and returns it; `undefined` when the file must be opened. Costs
 * no file access: the listing's `stat` says it all.
 *
 * @example
 * ```ts
 * const book = createCheckpointBook([], Date.now());
 * skipUnchanged(book, { path: "/x", size: 10, mtimeMs: 1, dev: 1, ino: 2 }); // undefined
 * ```
 */
export function skipUnchanged(book: CheckpointBook, file: Candidate): Checkpoint | undefined {
  const known = book.byIdentity.get(identity(file.dev, file.ino, file.size, file.mtimeMs));
  if (!known || book.seen.has(known.fingerprint)) return undefined;
  book.seen.add(known.fingerprint);
  if (known.path !== file.path || book.nowMs - known.seenMs >= SEEN_REFRESH_MS) {
    const moved = { ...known, path: file.path, seenMs: book.nowMs };
    book.current.set(known.fingerprint, moved);
    book.changed.set(known.fingerprint, moved);
    return moved;
  }
  return known;
}

/** A file present this run, with its checkpoint as it stands after the run. */
export interface Present {
  file: Candidate;
  checkpoint: Checkpoint;
  /** Whether its read failed this run. */
  failed?: boolean;
}

/**
 * Sets the state of the checkpoints of the files present this run (see
 * {@link CheckpointState}); `present` is in log order. Checkpoints whose
 * state changes are written.
 *
 * @example
 * ```ts
 * const book = createCheckpointBook([], Date.now());
 * settleStates(book, []);
 * ```
 */
export function settleStates(book: CheckpointBook, present: Present[]): void {
  const newest = new Map<string, Present>();
  for (const p of present) newest.set(chainOf(p.file.path), p);
  const newestOnes = new Set(newest.values());
  for (const p of present) {
    const c = p.checkpoint;
    const grew = !c.gzip && c.size > p.file.size;
    const open = newestOnes.has(p) || p.failed || c.offset < c.size || grew;
    const state: CheckpointState = open ? "open" : "closed";
    const fileSize = p.failed || grew ? undefined : p.file.size;
    if (state === c.state && fileSize === c.fileSize) continue;
    const settled = { ...c, state, fileSize };
    book.current.set(c.fingerprint, settled);
    book.changed.set(c.fingerprint, settled);
  }
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

/** Why a listed file was not read as an audit log. */
export type PassReason =
  | "empty"
  | "no complete first line"
  | "looks like syslog output"
  | "not an audit log"
  | "a copy of another audit file";

/** A listed file that is no audit log (yet). */
export interface PassedOver {
  file: Candidate;
  reason: PassReason;
}

/**
 * Marks a file as read to its end without reading it: right after an old
 * tool's database is migrated, the old tool read the files it had seen.
 *
 * @example
 * ```ts
 * // readFiles() in schedule.ts calls it for the files its `readBefore` names.
 * ```
 * @throws {import("../input/file.ts").SourceError} when a gzip file cannot be read.
 */
export async function markRead(read: FileRead): Promise<void> {
  const { checkpoint } = read;
  let end = read.file.size;
  if (checkpoint.gzip) {
    const file = await openFile(read.file.path);
    end = 0;
    try {
      for await (const chunk of gzipChunks(file, 0)) end += chunk.length;
    } catch (e) {
      throw sourceError(read.file.path, "cannot be read", e);
    } finally {
      closeQuietly(file);
    }
  }
  checkpoint.offset = checkpoint.size = end;
  read.ranges = [];
}

/** What the plugin's lines look like when they went through syslog (`AuditFormat = file`). */
const SYSLOG_IDENT = `${DEFAULT_SYSLOG_IDENT}:`;

/** Why a file whose head is not an audit log's was passed over. */
function passReason(head: Head, fp: string | undefined): PassReason {
  if (head.bytes.length === 0) return "empty";
  if (new TextDecoder().decode(head.bytes).includes(SYSLOG_IDENT)) {
    return "looks like syslog output";
  }
  return fp === undefined ? "no complete first line" : "not an audit log";
}

/** Whether `file` is the one a stored checkpoint followed (its device and inode). */
function followed(book: CheckpointBook, fp: string, file: Candidate): boolean {
  const stored = book.stored.find((c) => c.fingerprint === fp);
  return stored !== undefined && stored.dev === file.dev && stored.ino === file.ino;
}

/**
 * Records a file in the book (found, and its checkpoint as it stands) and
 * says which of its bytes to read; a {@link PassedOver} when it is no audit
 * log, has no complete first line yet, or is a copy of a file looked at
 * before in this run. The file a checkpoint followed takes its checkpoint
 * back from such a copy: a read made for the copy is then stale (its
 * checkpoint is no longer the book's).
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { lineFormat } from "../format/line.ts";
 * import { createLogger } from "../log.ts";
 * import { discoverFiles } from "../input/discover.ts";
 * const { files } = discoverFiles({ path: "/var/lib/mysql", recursive: false, exclude: [] });
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
): Promise<FileRead | PassedOver> {
  const { log, formats } = options;
  const head = await readHead(file.path, { readOn: (start) => mayStartInForm(start, formats) });
  const fp = await fingerprint(head.bytes);
  const format = fp === undefined ? undefined : formatOfFile(head, formats);
  if (fp === undefined || !format) {
    const reason = passReason(head, fp);
    log.log("DEBUG", `passed over: ${reason}`, { file: file.path });
    return { file, reason };
  }
  const known = book.current.get(fp);
  let offset = known?.offset ?? 0;
  // Two files with one first line: one is a copy (`cp -p`, copytruncate before the
  // truncation), and so is another inode shorter than what was read. The one the
  // checkpoint followed is read; a copy would count twice.
  const copyLike = book.seen.has(fp) || (known && !head.gzip && file.size < offset);
  if (copyLike && !followed(book, fp, file)) {
    log.log("DEBUG", "passed over: a copy of another audit file", { file: file.path });
    return { file, reason: "a copy of another audit file" };
  }
  book.seen.add(fp);
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
    state: known?.state ?? "open",
  };
  book.current.set(fp, checkpoint);
  book.changed.set(fp, checkpoint);
  const ranges = head.gzip || file.size > offset
    ? [{ path: file.path, gzip: head.gzip, from: offset }]
    : [];
  return { file, format, fp, checkpoint, ranges, bytesRead: 0, longLines: 0 };
}
