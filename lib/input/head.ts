/**
 * A file's identity: the start of its content (decompressed for gzip) and a
 * fingerprint of its first line, the same for a gzip copy, so that a file is
 * known across renames and compression.
 *
 * @module
 */

import { closeQuietly, gzipChunks, openFile, sourceError, toBinary } from "./file.ts";

/** How much of a file's first line the fingerprint covers. */
export const FINGERPRINT_BYTES = 4096;

/** The start of a file's content (decompressed for gzip). */
export interface Head {
  gzip: boolean;
  bytes: Uint8Array;
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
    throw sourceError(path, "cannot be read", e);
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
