/**
 * Reading audit files: a file's identity (a fingerprint of its first line,
 * the same for a gzip copy), whether its content looks like an audit log, and
 * its complete lines from a byte offset on, streamed in bounded blocks.
 *
 * @module
 */

import { Buffer } from "node:buffer";

/** Lines longer than this are skipped (and counted) without being held in memory. */
export const MAX_LINE_BYTES = 1 << 20;

/** Bytes read from a file at a time. */
const READ_BYTES = 1 << 20;

/**
 * Read buffers no longer in use: a run reads many ranges, and buffers freed by
 * the garbage collector are memory the process keeps.
 */
const spareBuffers: Uint8Array[] = [];

/**
 * Bytes handed on at a time: small enough that the strings made of them are
 * short-lived young objects (cheap to collect, so memory stays flat), and
 * never more than the line limit, so that a longer line always spans pieces,
 * where it is measured.
 */
const PIECE_BYTES = 64 << 10;

/** How much of a file's first line the fingerprint covers. */
export const FINGERPRINT_BYTES = 4096;

/** The start of a file's content (decompressed for gzip). */
export interface Head {
  gzip: boolean;
  bytes: Uint8Array;
}

/** A file that cannot be read. */
export class SourceError extends Error {
  /** The file. */
  path: string;
  /** Creates the error. */
  constructor(path: string, message: string) {
    super(message);
    this.name = "SourceError";
    this.path = path;
  }
}

function describe(e: unknown): string {
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.NotFound) return "not found";
  return (e as Error).message;
}

async function* plainChunks(
  file: Deno.FsFile,
  offset: number,
  end = Infinity,
): AsyncGenerator<Uint8Array> {
  await file.seek(offset, Deno.SeekMode.Start);
  const buffer = spareBuffers.pop() ?? new Uint8Array(READ_BYTES);
  try {
    for (let position = offset; position < end;) {
      const n = await file.read(buffer.subarray(0, Math.min(READ_BYTES, end - position)));
      if (n === null) return;
      position += n;
      yield buffer.subarray(0, n);
    }
  } finally {
    spareBuffers.push(buffer);
  }
}

async function* gzipChunks(file: Deno.FsFile, skip: number): AsyncGenerator<Uint8Array> {
  const reader = file.readable.pipeThrough(new DecompressionStream("gzip")).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (skip >= value.length) {
        skip -= value.length;
        continue;
      }
      yield value.subarray(skip);
      skip = 0;
    }
  } finally {
    // Stops the decompression (and closes the file) when the caller stopped early.
    await reader.cancel().catch(() => {});
  }
}

/** Opens a file for reading, or throws a {@link SourceError} that says why not. */
async function openFile(path: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(path);
  } catch (e) {
    throw new SourceError(path, `cannot be opened: ${describe(e)}`);
  }
}

/** Closes a file that a finished stream may have closed already. */
function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // Closed by its readable stream.
  }
}

/**
 * Whether bytes start like a gzip stream.
 *
 * @example
 * ```ts
 * isGzip(new Uint8Array([0x1f, 0x8b, 8])); // true
 * ```
 */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Reads the first bytes of a file's content, decompressed if it is gzip.
 *
 * @example
 * ```ts
 * const head = await readHead("/var/lib/mysql/server_audit.log");
 * ```
 * @throws {SourceError} when the file cannot be opened or read.
 */
export async function readHead(path: string, limit = 2 * FINGERPRINT_BYTES): Promise<Head> {
  const file = await openFile(path);
  try {
    const first = new Uint8Array(limit);
    let n = 0;
    while (n < limit) {
      const got = await file.read(first.subarray(n));
      if (got === null) break;
      n += got;
    }
    if (!isGzip(first.subarray(0, n))) return { gzip: false, bytes: first.subarray(0, n) };
    await file.seek(0, Deno.SeekMode.Start);
    const out = new Uint8Array(limit);
    let filled = 0;
    try {
      for await (const chunk of gzipChunks(file, 0)) {
        const take = Math.min(chunk.length, limit - filled);
        out.set(chunk.subarray(0, take), filled);
        filled += take;
        if (filled === limit) break;
      }
    } catch {
      // A truncated or corrupt stream: its head is what could be decompressed.
    }
    return { gzip: true, bytes: out.subarray(0, filled) };
  } catch (e) {
    throw new SourceError(path, `cannot be read: ${describe(e)}`);
  } finally {
    closeQuietly(file);
  }
}

/**
 * The fingerprint of a file: SHA-256 of its first line (up to
 * {@link FINGERPRINT_BYTES}), or `undefined` while no complete first line
 * exists. A gzip copy has the fingerprint of its original.
 *
 * @example
 * ```ts
 * const bytes = new TextEncoder().encode("20261124 23:52:24,vm,root,localhost,3,0,CONNECT,,,0\n");
 * (await fingerprint(bytes))?.length; // 64
 * await fingerprint(bytes.subarray(0, 10)); // undefined
 * ```
 */
export async function fingerprint(head: Uint8Array): Promise<string | undefined> {
  const newline = head.subarray(0, FINGERPRINT_BYTES).indexOf(10);
  let end = newline + 1;
  if (newline === -1) {
    if (head.length < FINGERPRINT_BYTES) return undefined;
    end = FINGERPRINT_BYTES;
  }
  // Web Crypto, not node:crypto: loading that costs every run about 10 ms.
  const digest = await crypto.subtle.digest("SHA-256", head.slice(0, end));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Bytes as a binary string: one character per byte.
 *
 * @example
 * ```ts
 * toBinary(new Uint8Array([0x7a, 0xc3, 0xab]), 0, 3); // "z\u00c3\u00ab"
 * ```
 */
export function toBinary(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1", start, end);
}

/**
 * The first line of a head as a binary string, if it is complete.
 *
 * @example
 * ```ts
 * firstLine(new TextEncoder().encode("a,b\nc")); // "a,b"
 * ```
 */
export function firstLine(head: Uint8Array): string | undefined {
  const newline = head.indexOf(10);
  if (newline === -1) return undefined;
  return toBinary(head, 0, newline);
}

/** What reading one file did. */
export interface ReadResult {
  /** The offset after the last complete line consumed (in the decompressed stream for gzip). */
  offset: number;
  /** Bytes of content read (decompressed for gzip). */
  bytesRead: number;
  /** Lines skipped for being longer than {@link MAX_LINE_BYTES}. */
  longLines: number;
}

/** Where {@link readBlocks} stops, and the longest line it keeps. */
export interface ReadLimits {
  /** A line start to stop at (plain files only); the default reads to the end. */
  end?: number;
  /** Longer lines are skipped and counted; {@link MAX_LINE_BYTES} by default. */
  maxLine?: number;
}

/**
 * Streams the complete lines of a file from `offset` on, in blocks (binary
 * strings of whole lines). `onBlock` gets each block and the offset after
 * it; a partial last line is left for a later run. For gzip, `offset` counts
 * decompressed bytes.
 *
 * @example
 * ```ts
 * await readBlocks("/var/lib/mysql/server_audit.log", false, 0, (block, end) => {
 *   console.log(block.length, end);
 * });
 * ```
 * @throws {SourceError} when the file cannot be opened or read; blocks
 * handed to `onBlock` before the failure stand.
 */
export async function readBlocks(
  path: string,
  gzip: boolean,
  offset: number,
  onBlock: (block: string, end: number) => void,
  { end, maxLine = MAX_LINE_BYTES }: ReadLimits = {},
): Promise<ReadResult> {
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
    throw new SourceError(path, `cannot be read: ${describe(e)}`);
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
    throw new SourceError(path, `cannot be read: ${describe(e)}`);
  } finally {
    closeQuietly(file);
  }
}
