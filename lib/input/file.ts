/**
 * Files as the input stage meets them: opening, streaming plain and gzip
 * bytes, and what went wrong, said once for every reader
 * ({@link SourceError} with its {@link FileProblem}).
 *
 * @module
 */

import { Buffer } from "node:buffer";

/** What kind of problem a file had: the run treats a vanished file as no error. */
export type FileProblem = "not found" | "permission denied" | "other";

/**
 * The kind of problem a file-system error is.
 *
 * @example
 * ```ts
 * fileProblem(new Deno.errors.NotFound("gone")); // "not found"
 * ```
 */
export function fileProblem(e: unknown): FileProblem {
  if (e instanceof Deno.errors.NotFound) return "not found";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  return "other";
}

/**
 * A file-system error in words: its kind, or its own message.
 *
 * @example
 * ```ts
 * describeFileError(new Deno.errors.PermissionDenied("EACCES")); // "permission denied"
 * ```
 */
export function describeFileError(e: unknown): string {
  const problem = fileProblem(e);
  return problem === "other" ? (e as Error)?.message ?? String(e) : problem;
}

/** A file that cannot be read. */
export class SourceError extends Error {
  /** The file. */
  path: string;
  /** What kind of problem it was. */
  problem: FileProblem;
  /** Creates the error; {@link sourceError} makes one from a file-system error. */
  constructor(path: string, message: string, options: { problem: FileProblem; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = "SourceError";
    this.path = path;
    this.problem = options.problem;
  }
}

/**
 * The {@link SourceError} for a file-system error: "`what`: `why`".
 *
 * @example
 * ```ts
 * sourceError("/x", "cannot be opened", new Deno.errors.NotFound("x")).message;
 * // "cannot be opened: not found"
 * ```
 */
export function sourceError(path: string, what: string, cause: unknown): SourceError {
  return new SourceError(path, `${what}: ${describeFileError(cause)}`, {
    problem: fileProblem(cause),
    cause,
  });
}

/**
 * The decompressed bytes of a gzip file, the first `skip` of them left out.
 *
 * @example
 * ```ts
 * const file = await openFile("/var/lib/mysql/server_audit.log.1.gz");
 * for await (const chunk of gzipChunks(file, 0)) console.log(chunk.length);
 * ```
 */
export async function* gzipChunks(file: Deno.FsFile, skip: number): AsyncGenerator<Uint8Array> {
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

/**
 * Opens a file for reading, or throws a {@link SourceError} that says why not.
 *
 * @example
 * ```ts
 * const file = await openFile("/var/lib/mysql/server_audit.log");
 * closeQuietly(file);
 * ```
 */
export async function openFile(path: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(path);
  } catch (e) {
    throw sourceError(path, "cannot be opened", e);
  }
}

/**
 * Closes a file that a finished stream may have closed already.
 *
 * @example
 * ```ts
 * closeQuietly(await openFile("/var/lib/mysql/server_audit.log"));
 * ```
 */
export function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch {
    // Closed by its readable stream.
  }
}

/** A Buffer over the whole memory of the last bytes {@link toBinary} was given. */
let view: { buffer: ArrayBufferLike; bytes: Buffer } | undefined;

/**
 * Bytes as a binary string: one character per byte.
 *
 * @example
 * ```ts
 * toBinary(new Uint8Array([0x7a, 0xc3, 0xab]), 0, 3); // "z\u00c3\u00ab"
 * ```
 */
export function toBinary(bytes: Uint8Array, start: number, end: number): string {
  // Most calls read the scanner's memory: one Buffer over it serves them all.
  if (view?.buffer !== bytes.buffer) {
    view = { buffer: bytes.buffer, bytes: Buffer.from(bytes.buffer) };
  }
  return view.bytes.toString("latin1", bytes.byteOffset + start, bytes.byteOffset + end);
}
