/**
 * Losses to rotation: a file that may still have been written after a run
 * last read it (its checkpoint is `open`) and that is now gone, not found
 * again by inode or fingerprint, may have taken events with it. The run
 * cannot prove otherwise, so it records a loss from the last event read to
 * the first event of the file that followed it, and says when files rotate
 * away faster than the runs come.
 *
 * @module
 */

import { parseRecord } from "../format/record.ts";
import type { LineFormat } from "../format/line.ts";
import { chainOf } from "../input/discover.ts";
import { firstLine, readHead } from "../input/head.ts";
import type { Logger } from "../log.ts";
import { clockInstant, createLogClock } from "../time/clock.ts";
import type { Zone } from "../time/zone.ts";
import type { Checkpoint, CheckpointBook, Present } from "./checkpoints.ts";
import type { Failures } from "./failures.ts";

/** Events that rotation may have removed before they were read. */
export interface Loss {
  path: string;
  fingerprint: string;
  /** Bytes known to be unread when a run last saw the file (more may have been written). */
  unreadBytes: number;
  /** The events lost lie between these instants (epoch milliseconds): the last event read… */
  from?: number;
  /** …and the first event of the oldest file still there that came after it (or the run's start). */
  to: number;
}

/** What {@link detectLosses} needs. */
export interface LossOptions {
  book: CheckpointBook;
  /** The audit files present this run, in log order, with their settled checkpoints. */
  present: Present[];
  /** Whether the listing looks at a path: a checkpoint elsewhere has not vanished. */
  inScope: (path: string) => boolean;
  failures: Failures;
  /** When the last run started, if there was one. */
  lastRunMs?: number;
  format: LineFormat;
  zone: Zone;
  log: Logger;
}

/**
 * The instant of a file's first event, or `undefined` when it cannot be read.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * import { lineFormat } from "../format/line.ts";
 * await firstEventInstant("/var/lib/mysql/server_audit.log", {
 *   format: lineFormat(compileLayout("20060102 15:04:05")),
 *   zone: loadZone("UTC"),
 * });
 * ```
 */
export async function firstEventInstant(
  path: string,
  options: { format: LineFormat; zone: Zone; previous?: number },
): Promise<number | undefined> {
  const head = await readHead(path).catch(() => undefined);
  const line = head && firstLine(head.bytes);
  const record = line === undefined ? undefined : parseRecord(line, options.format.timestampCommas);
  if (!record) return undefined;
  const clock = createLogClock(options.format.timestamp, options.zone, options.previous);
  return clockInstant(clock, record.timestamp);
}

function minutes(ms: number): number {
  return Math.round(ms / 6_000) / 10;
}

/** Whether a stored checkpoint is that of a file that failed this run (it is there). */
function isFailed(c: Checkpoint, failures: Failures): boolean {
  return failures.errors.some((e) => e.path === c.path) ||
    failures.files.some((f) => f.path === c.path || (f.dev === c.dev && f.ino === c.ino));
}

/**
 * Finds the checkpointed files that are gone, marks them `gone`, and returns
 * a loss for each that was `open`; logs each loss at ERROR, and says when the
 * cron interval is too long for the rotation (ERROR with a loss, WARN when one
 * more rotation between runs would have lost events).
 *
 * @example
 * ```ts
 * // runTracking() in run.ts calls it once the files present are read and settled.
 * ```
 */
export async function detectLosses(options: LossOptions): Promise<Loss[]> {
  const { book, failures, log } = options;
  if (failures.vanishedMidRun) {
    // A file renamed while this run listed the directory may be under a name not listed.
    log.log("INFO", "a file vanished during the run: losses are looked for by the next run");
    return [];
  }
  const gone = book.stored.filter((c) =>
    c.state !== "gone" && !book.seen.has(c.fingerprint) && options.inScope(c.path) &&
    !isFailed(c, failures)
  );
  for (const c of gone) book.changed.set(c.fingerprint, { ...c, state: "gone" });
  const losses: Loss[] = [];
  for (const c of gone.filter((c) => c.state === "open")) {
    const after = options.present.filter((p) => chainOf(p.file.path) === chainOf(c.path));
    let to: number | undefined;
    for (const p of after) {
      const first = await firstEventInstant(p.file.path, { ...options, previous: c.lastInstant });
      if (first !== undefined && (c.lastInstant === undefined || first >= c.lastInstant)) {
        to = first;
        break;
      }
    }
    const loss: Loss = {
      path: c.path,
      fingerprint: c.fingerprint,
      unreadBytes: c.size - c.offset,
      from: c.lastInstant,
      to: to ?? book.nowMs,
    };
    losses.push(loss);
    // The time range says what was lost. The bytes are a lower bound (the file may have grown
    // after it was last read): said only when some are known, as 0 would read as "nothing".
    log.log("ERROR", "audit file removed before it was read to the end: events lost", {
      file: c.path,
      unread_bytes: loss.unreadBytes > 0 ? loss.unreadBytes : undefined,
      from: loss.from === undefined ? undefined : new Date(loss.from).toISOString(),
      to: new Date(loss.to).toISOString(),
    });
  }
  if (gone.length > 0) sayRotationRate(options, gone, losses.length > 0);
  return losses;
}

/** Says, with the observed rate, when files rotate away about as fast as the runs come. */
function sayRotationRate(options: LossOptions, gone: Checkpoint[], lost: boolean): void {
  const { book, present, lastRunMs, log } = options;
  const stored = new Set(book.stored.map((c) => c.fingerprint));
  const appeared = present.filter((p) => !stored.has(p.checkpoint.fingerprint)).length;
  const chains = new Set(gone.map((c) => chainOf(c.path)));
  // The file written at the last run is now the oldest the plugin keeps: one rotation from gone.
  const nearly = [...chains].some((chain) => {
    const oldest = present.find((p) => chainOf(p.file.path) === chain);
    return oldest !== undefined &&
      book.stored.find((c) => c.fingerprint === oldest.checkpoint.fingerprint)?.state === "open";
  });
  if (lost ? appeared === 0 : !nearly) return;
  const since = lastRunMs === undefined ? undefined : minutes(book.nowMs - lastRunMs);
  const what =
    `${gone.length} audit file${gone.length === 1 ? "" : "s"} rotated away and ${appeared} ` +
    `appeared since the last run${since === undefined ? "" : ` ${since} minutes ago`}`;
  log.log(
    lost ? "ERROR" : "WARN",
    lost
      ? `${what}: the cron interval is too long for the audit plugin's rotation settings`
      : `${what}: one more rotation between runs would lose events; run conntracker more often`,
    {
      rotated_away: gone.length,
      appeared,
      kept: present.filter((p) => chains.has(chainOf(p.file.path))).length,
      minutes_since_last_run: since,
    },
  );
}
