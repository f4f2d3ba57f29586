/**
 * Reading audit files: their complete lines from a byte offset on, streamed in
 * bounded blocks, and cutting a file into line-aligned ranges to read apart.
 *
 * @module
 */

import { closeQuietly, gzipChunks, openFile, plainChunks, sourceError, toBinary } from "./file.ts";

/** Lines longer than this are skipped (and counted) without being held in memory. */
export const MAX_LINE_BYTES = 1 << 20;

/**
 * Bytes handed on at a time: small enough that the strings made of them are
 * short-lived young objects (cheap to collect, so memory stays flat), and
 * never more than the line limit, so that a longer line always spans pieces,
 * where it is measured.
 */
const PIECE_BYTES = 64 << 10;

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

/** The longest line {@link readBlocks} keeps. */
export interface ReadLimits {
  /** Longer lines are skipped and counted; {@link MAX_LINE_BYTES} by default. */
  maxLine?: number;
}

/**
 * Streams the complete lines of a range of a file, in blocks (binary
 * strings of whole lines). `onBlock` gets each block and the offset after
 * it; a partial last line is left for a later run.
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
  onBlock: (block: string, end: number) => void,
  { maxLine = MAX_LINE_BYTES }: ReadLimits = {},
): Promise<ReadResult> {
  const { path, gzip, from: offset, to: end } = range;
  const file = await openFile(path);
  const result: ReadResult = { offset, bytesRead: 0, longLines: 0 };
  // The partial line after the last newline; `skipping` while it is too long to keep.
  let carry = "";
  let skipping = false;
  let position = offset;
  const chunks = gzip ? gzipChunks(file, offset) : plainChunks(file, offset, end);
  const pieceBytes = Math.min(PIECE_BYTES, maxLine);
  try {
    for await (const chunk of chunks) {
      result.bytesRead += chunk.length;
      for (let at = 0; at < chunk.length; at += pieceBytes) {
        const piece = chunk.subarray(at, at + pieceBytes);
        const pieceStart = position;
        position += piece.length;
        const last = piece.lastIndexOf(10);
        if (last === -1) {
          if (!skipping) carry += toBinary(piece, 0, piece.length);
          if (carry.length > maxLine) carry = "", skipping = true;
          continue;
        }
        const first = piece.indexOf(10);
        let from = 0;
        // A long line counts once it is complete: a partial one is read again later.
        if (skipping) from = first + 1, skipping = false, result.longLines++;
        else if (carry.length + first > maxLine) carry = "", from = first + 1, result.longLines++;
        const block = carry + toBinary(piece, from, last + 1);
        carry = toBinary(piece, last + 1, piece.length);
        const end = pieceStart + last + 1;
        if (block.length > 0) onBlock(block, end);
        result.offset = end;
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
    const window = new Uint8Array(PIECE_BYTES);
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
