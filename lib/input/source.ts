/**
 * Reading audit files: their complete lines from a byte offset on, streamed in
 * bounded blocks, and cutting a file into line-aligned ranges to read apart.
 *
 * @module
 */

import { closeQuietly, gzipChunks, openFile, sourceError } from "./file.ts";

/** Lines longer than this are skipped (and counted) without being held in memory. */
export const MAX_LINE_BYTES = 1 << 20;

/** Bytes asked of the file at a time (at most): a read never holds a whole longer line. */
const READ_BYTES = 1 << 20;

/** The buffer of {@link readBlocks} when the caller gives none. */
let ownBuffer: Uint8Array | undefined;

/** What reading one file did. */
export interface ReadResult {
  /** The offset after the last complete line consumed (in the decompressed stream for gzip). */
  offset: number;
  /** Bytes of content read (decompressed for gzip). */
  bytesRead: number;
  /** Lines skipped for being longer than {@link MAX_LINE_BYTES}. */
  longLines: number;
}

/** Lines of a file that start at or after `from` and before `to` (or the end). */
export interface Range {
  path: string;
  gzip: boolean;
  /** A line start; for gzip, in the decompressed stream. */
  from: number;
  /** A line start (plain files only); absent for the last range of a file, which reads to its end. */
  to?: number;
}

/** The longest line {@link readBlocks} keeps, and where it reads to. */
export interface ReadLimits {
  /** Longer lines are skipped and counted; {@link MAX_LINE_BYTES} by default, at most half of `buffer`. */
  maxLine?: number;
  /** The buffer to read into, reused for every block (2 MiB by default). */
  buffer?: Uint8Array;
}

/**
 * Streams the complete lines of a range of a file, in blocks (bytes of
 * whole lines, each ending in a newline, in `buffer`: valid only until
 * `onBlock` returns). `onBlock` gets each block and the offset after it; a
 * partial last line is left for a later run. Plain files are read
 * synchronously, straight into the buffer: a run has nothing else to do
 * while it waits.
 *
 * @example
 * ```ts
 * const range = { path: "/var/lib/mysql/server_audit.log", gzip: false, from: 0 };
 * await readBlocks(range, (block, end) => console.log(block.length, end));
 * ```
 * @throws {SourceError} when the file cannot be opened or read; blocks
 * handed to `onBlock` before the failure stand.
 */
export async function readBlocks(
  range: Range,
  onBlock: (block: Uint8Array, end: number) => void,
  limits: ReadLimits = {},
): Promise<ReadResult> {
  const { path, gzip, from: offset, to: end = Infinity } = range;
  const buffer = limits.buffer ?? (ownBuffer ??= new Uint8Array(2 * READ_BYTES));
  const maxLine = Math.min(limits.maxLine ?? MAX_LINE_BYTES, buffer.length >> 1);
  const file = await openFile(path);
  const result: ReadResult = { offset, bytesRead: 0, longLines: 0 };
  // buffer[0, filled) holds the partial line after the last newline, from file offset `base`;
  // `skipping` while it is too long to keep.
  let filled = 0, base = offset, skipping = false;
  /** Takes the `n` bytes just put at `filled`, at most `maxLine` of them. */
  const take = (n: number) => {
    const fresh = filled;
    filled += n;
    result.bytesRead += n;
    const last = buffer.lastIndexOf(10, filled - 1);
    if (last < fresh) {
      if (skipping || filled > maxLine) base += filled, filled = 0, skipping = true;
      return;
    }
    let from = 0;
    // A long line counts once it is complete: a partial one is read again later.
    if (skipping || buffer.indexOf(10, fresh) > maxLine) {
      from = buffer.indexOf(10, fresh) + 1;
      skipping = false;
      result.longLines++;
    }
    const blockEnd = base + last + 1;
    if (last + 1 > from) onBlock(buffer.subarray(from, last + 1), blockEnd);
    result.offset = blockEnd;
    buffer.copyWithin(0, last + 1, filled);
    filled -= last + 1;
    base = blockEnd;
  };
  try {
    if (gzip) {
      for await (const chunk of gzipChunks(file, offset)) {
        for (let at = 0; at < chunk.length; at += maxLine) {
          const piece = chunk.subarray(at, at + maxLine);
          buffer.set(piece, filled);
          take(piece.length);
        }
      }
    } else {
      file.seekSync(offset, Deno.SeekMode.Start);
      for (let position = offset; position < end;) {
        const want = Math.min(maxLine, end - position);
        const n = file.readSync(buffer.subarray(filled, filled + want));
        if (n === null || n === 0) break;
        position += n;
        take(n);
      }
    }
  } catch (e) {
    throw sourceError(path, "cannot be read", e);
  } finally {
    closeQuietly(file);
  }
  return result;
}

/**
 * Cuts the bytes of a plain file from `from` to `size` into ranges of about
 * `rangeBytes` that start at line starts, for scanning in parallel. The last
 * range has no end: it reads whatever the file holds by then.
 *
 * @example
 * ```ts
 * const ranges = await cutRanges("/var/lib/mysql/server_audit.log.1", 0, 100 << 20, 8 << 20);
 * ranges[0].to; // the first line start at or after 8 MiB
 * ```
 * @throws {SourceError} when the file cannot be opened or read.
 */
export async function cutRanges(
  path: string,
  from: number,
  size: number,
  rangeBytes: number,
): Promise<{ from: number; to?: number }[]> {
  if (size - from < 2 * rangeBytes) return [{ from }];
  const ranges: { from: number; to?: number }[] = [];
  const file = await openFile(path);
  try {
    const window = new Uint8Array(64 << 10);
    let start = from;
    // The next line start at or after `cut`: after the first newline from `cut - 1` on.
    for (let cut = start + rangeBytes; cut < size - rangeBytes;) {
      await file.seek(cut - 1, Deno.SeekMode.Start);
      const n = await file.read(window);
      if (n === null) break;
      const newline = window.subarray(0, n).indexOf(10);
      if (newline === -1) {
        cut += n;
        continue;
      }
      ranges.push({ from: start, to: cut + newline });
      start = cut + newline;
      cut = start + rangeBytes;
    }
    ranges.push({ from: start });
    return ranges;
  } catch (e) {
    throw sourceError(path, "cannot be read", e);
  } finally {
    closeQuietly(file);
  }
}
