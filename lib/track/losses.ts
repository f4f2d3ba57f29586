/**
 * Loss recovery: checkpointed files that vanished with bytes unread. Files
 * skipped for their age are looked at first (by inode, then by content), so
 * that a file renamed or compressed with bytes unread is read, not reported;
 * what is still unread then is a loss, logged and recorded.
 *
 * @module
 */

import type { Candidate } from "../input/discover.ts";
import type { Logger } from "../log.ts";
import type { CheckpointBook, FileRead } from "./checkpoints.ts";

/** Bytes of a file that rotation removed before they were read. */
export interface Loss {
  path: string;
  fingerprint: string;
  unreadBytes: number;
  /** The unread bytes were written between these instants (epoch milliseconds). */
  from?: number;
  to: number;
}

/** What {@link recoverLosses} needs. */
export interface RecoverOptions {
  book: CheckpointBook;
  /** Files skipped for being older than the watermark, oldest first. */
  skipped: Candidate[];
  /** Reads one file's new bytes as the run reads any (see `readFiles`). */
  read: (file: Candidate) => Promise<FileRead[]>;
  log: Logger;
}

/**
 * Finds the checkpointed files whose unread bytes are gone, after reading
 * those among the skipped files; their checkpoints are marked read to the end.
 *
 * @example
 * ```ts
 * // runTracking() in run.ts calls it after reading the files newer than the watermark.
 * ```
 */
export async function recoverLosses(options: RecoverOptions): Promise<Loss[]> {
  const { book, skipped, log } = options;
  for (const file of skipped) {
    const same = book.stored.find((c) =>
      c.dev === file.dev && c.ino === file.ino && !c.gzip && c.size === file.size
    );
    if (same && !book.changed.has(same.fingerprint)) {
      book.seen.add(same.fingerprint);
      book.changed.set(same.fingerprint, { ...same, path: file.path, seenMs: book.nowMs });
    }
  }
  const unread = () =>
    book.stored.filter((c) => c.size > c.offset && !book.seen.has(c.fingerprint));
  if (unread().length > 0) {
    for (const file of skipped) {
      if (unread().length === 0) break;
      const [done] = await options.read(file);
      if (done) log.log("INFO", "read unread bytes of an older file", { file: file.path });
    }
  }
  const losses: Loss[] = [];
  for (const c of unread()) {
    const loss: Loss = {
      path: c.path,
      fingerprint: c.fingerprint,
      unreadBytes: c.size - c.offset,
      from: c.lastInstant,
      to: c.mtimeMs,
    };
    losses.push(loss);
    book.changed.set(c.fingerprint, { ...c, offset: c.size });
    log.log("ERROR", "audit file removed before it was read to the end: events lost", {
      file: c.path,
      unread_bytes: loss.unreadBytes,
      from: loss.from === undefined ? undefined : new Date(loss.from).toISOString(),
      to: new Date(loss.to).toISOString(),
    });
  }
  return losses;
}
