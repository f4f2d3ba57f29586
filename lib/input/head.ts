/**
 * A file's identity: the start of its content (decompressed for gzip), read
 * as far as its first line goes, and a fingerprint of that line, the same for
 * a gzip copy, so that a file is known across renames and compression.
 *
 * @module
 */

import { closeQuietly, gzipChunks, openFile, sourceError, toBinary } from "./file.ts";
import { MAX_LINE_BYTES } from "./source.ts";

/** How much of a file's first line the fingerprint covers. */
const FINGERPRINT_BYTES = 4096;

/** How much of a file is read first: most first lines end within it. */
export const HEAD_BYTES = 2 * FINGERPRINT_BYTES;

/** The start of a file's content (decompressed for gzip). */
export interface Head {
  gzip: boolean;
  /**
   * The content from its start: the whole first line when it is complete and
   * within the long-line limit (and whatever else the first read brought),
   * else as much of it as was read.
   */
  bytes: Uint8Array;
  /**
   * Whether the first line is longer than the long-line limit: `bytes` then
   * hold its start (at least `maxLine + 1` bytes).
   */
  longFirstLine: boolean;
}

/** How far {@link readHead} reads. */
export interface ReadHeadOptions {
  /**
   * Whether to read on when the first {@link HEAD_BYTES} hold no newline,
   * given those bytes: a file that does not start like the lines sought is
   * judged by them, without reading up to the limit. Reads on by default.
   */
  readOn?: (start: Uint8Array) => boolean;
  /** The long-line limit: {@link MAX_LINE_BYTES} by default. */
  maxLine?: number;
}

/**
 * Whether bytes start like a gzip stream.
 *
 * @example
 * ```ts
 * isGzip(new Uint8Array([0x1f, 0x8b, 8])); // true
 * ```
 */
function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Reads into a buffer, as `Deno.FsFile.read` does; `null` at the end. */
type Read = (into: Uint8Array) => Promise<number | null>;

/** Fills `buffer` from `at` on, until it is full or the content ends; returns the filled part. */
async function fill(read: Read, buffer: Uint8Array, at: number): Promise<Uint8Array> {
  while (at < buffer.length) {
    const got = await read(buffer.subarray(at));
    if (got === null) break;
    at += got;
  }
  return buffer.subarray(0, at);
}

/** A {@link Read} of a gzip file's decompressed content, and how to stop it. */
function gunzipReader(file: Deno.FsFile): { read: Read; stop: () => Promise<unknown> } {
  const chunks = gzipChunks(file, 0);
  let left: Uint8Array = new Uint8Array(0);
  let ended = false;
  const read: Read = async (into) => {
    if (left.length === 0 && !ended) {
      try {
        const next = await chunks.next();
        if (next.done) ended = true;
        else left = next.value;
      } catch {
        // A truncated or corrupt stream: its head is what could be decompressed.
        ended = true;
      }
    }
    if (left.length === 0) return null;
    const take = Math.min(left.length, into.length);
    into.set(left.subarray(0, take));
    left = left.subarray(take);
    return take;
  };
  return { read, stop: () => chunks.return(undefined) };
}

/**
 * Reads the start of a file's content, decompressed if it is gzip: the first
 * {@link HEAD_BYTES}, and on when they hold no newline (and `readOn` agrees)
 * up to the end of the first line, at most `maxLine + 1` bytes. A file's
 * first line is thus always seen whole when it is within the limit that
 * every other line is held to; a longer one is seen by its start.
 *
 * @example
 * ```ts
 * const head = await readHead("/var/lib/mysql/server_audit.log");
 * ```
 * @throws {SourceError} when the file cannot be opened or read.
 */
export async function readHead(path: string, options: ReadHeadOptions = {}): Promise<Head> {
  const { readOn = () => true, maxLine = MAX_LINE_BYTES } = options;
  const file = await openFile(path);
  let stop: () => Promise<unknown> = () => Promise.resolve();
  try {
    let read: Read = (into) => file.read(into);
    let bytes = await fill(read, new Uint8Array(HEAD_BYTES), 0);
    const gzip = isGzip(bytes);
    if (gzip) {
      await file.seek(0, Deno.SeekMode.Start);
      ({ read, stop } = gunzipReader(file));
      bytes = await fill(read, new Uint8Array(HEAD_BYTES), 0);
    }
    const limit = maxLine + 1;
    if (bytes.length === HEAD_BYTES && !bytes.includes(10) && readOn(bytes)) {
      for (let size = HEAD_BYTES; size < limit && bytes.length === size;) {
        const from = size;
        size = Math.min(2 * size, limit);
        const buffer = new Uint8Array(size);
        buffer.set(bytes);
        bytes = await fill(read, buffer, from);
        if (bytes.includes(10, from)) break;
      }
    }
    const newline = bytes.indexOf(10);
    const longFirstLine = newline === -1 ? bytes.length >= limit : newline > maxLine;
    return { gzip, bytes, longFirstLine };
  } catch (e) {
    throw sourceError(path, "cannot be read", e);
  } finally {
    await stop();
    closeQuietly(file);
  }
}

/**
 * The fingerprint of a file: SHA-256 of its first line with its newline, or
 * of its first {@link FINGERPRINT_BYTES} when the first line is longer than
 * that; `undefined` while the file is shorter than that and has no complete
 * first line. It depends on nothing after the first line (or after those
 * bytes), so it stays the same as the file grows, and a gzip copy has the
 * fingerprint of its original. The rule is unchanged since the first
 * checkpoints were written: their fingerprints stay valid.
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
