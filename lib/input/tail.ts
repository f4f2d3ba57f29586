/**
 * A plain file's last line and the modification time of the write that
 * ended it: what the time-zone check weighs.
 *
 * @module
 */

import { closeQuietly, openFile, toBinary } from "./file.ts";

/** How much of a file's end is read to find its last line. */
export const TAIL_BYTES = 64 * 1024;

/** The last line of a file and when the file was last written. */
export interface Tail {
  /** The last line with text (complete or not), as a binary string, without its newline. */
  line: string;
  /** The modification time, taken after the read, epoch milliseconds. */
  mtimeMs: number;
}

/**
 * Reads a plain file's last line. `undefined` when the file is empty, or its
 * last line is longer than {@link TAIL_BYTES}. The mtime is taken after the
 * read, so a line written meanwhile is older than it, as the last line is.
 *
 * @example
 * ```ts
 * const tail = await readTail("/var/lib/mysql/server_audit.log");
 * tail?.line; // "20261201 12:00:00,vm,app,10.0.0.5,42,0,DISCONNECT,,,0"
 * ```
 * @throws {import("./file.ts").SourceError} when the file cannot be opened.
 */
export async function readTail(path: string): Promise<Tail | undefined> {
  const file = await openFile(path);
  try {
    const size = (await file.stat()).size;
    const from = Math.max(0, size - TAIL_BYTES);
    await file.seek(from, Deno.SeekMode.Start);
    const bytes = new Uint8Array(size - from);
    let n = 0;
    while (n < bytes.length) {
      const got = await file.read(bytes.subarray(n));
      if (got === null) break;
      n += got;
    }
    const mtimeMs = (await file.stat()).mtime?.getTime();
    let end = n;
    while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
    const start = bytes.lastIndexOf(0x0a, end - 1) + 1;
    if (end === 0 || mtimeMs === undefined || (start === 0 && from > 0)) return undefined;
    return { line: toBinary(bytes, start, end), mtimeMs };
  } finally {
    closeQuietly(file);
  }
}
