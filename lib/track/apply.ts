/**
 * Applying the ranges of audit files to the tally, strictly in log order:
 * the lines a Worker found, or those of a scan on this thread when the
 * Worker could not know of a pending change-user. Each file's timestamps go
 * through its log clock, which starts where the file before it ended (the
 * DST rule).
 *
 * @module
 */

import type { FormatChoice } from "../format/identify.ts";
import { timestampReader } from "../format/line.ts";
import type { AuditRecord } from "../format/record.ts";
import { type LocatedEvent, scanBlock, type ScanStats } from "../format/scan.ts";
import { SourceError } from "../input/file.ts";
import type { Logger } from "../log.ts";
import { clockInstant, clockInstantOfBytes, createLogClock, type LogClock } from "../time/clock.ts";
import type { Zone } from "../time/zone.ts";
import { applyEvent, applyRecord, pendingKey, type Tally } from "./aggregate.ts";
import type { FileRead } from "./checkpoints.ts";
import type { Range } from "../input/source.ts";
import { type RangeResult, type RangeTask, scanRange } from "./parallel.ts";

/** The reading in progress: what the ranges of a run, applied in order, add up to. */
export interface Reading {
  tally: Tally;
  /** The forms a file may be in; each file's is in its `FileRead`. */
  formats: FormatChoice;
  zone: Zone;
  log: Logger;
  scan: ScanStats;
  /** Ranges a Worker scanned that were scanned again here. */
  rescans: number;
  /** The instant of the last timestamp of the file read before, for the DST rule. */
  previousInstant?: number;
}

/**
 * A reading that resumes the given tally.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * import { lineFormat } from "../format/line.ts";
 * import { createLogger } from "../log.ts";
 * import { createTally } from "./aggregate.ts";
 * const reading = createReading({
 *   tally: createTally(),
 *   formats: { file: lineFormat(compileLayout("20060102 15:04:05")) },
 *   zone: loadZone("UTC"),
 *   log: createLogger("WARN"),
 * });
 * ```
 */
export function createReading(
  options: { tally: Tally; formats: FormatChoice; zone: Zone; log: Logger },
): Reading {
  return { ...options, scan: { candidates: 0, malformed: 0 }, rescans: 0 };
}

/** The log clock of a file, made when its first range is applied (after the file before it). */
function clockOf(reading: Reading, read: FileRead): LogClock {
  read.clock ??= createLogClock(
    timestampReader(read.format, { zone: reading.zone, mtimeMs: read.file.mtimeMs }),
    reading.zone,
    read.checkpoint.lastInstant ?? reading.previousInstant,
  );
  return read.clock;
}

/** A range a Worker scanned: the task sent and what came back. */
export interface Scanned {
  task: RangeTask;
  result: RangeResult;
}

/**
 * Applies one range of a file, in log order, and advances its checkpoint.
 *
 * @example
 * ```ts
 * // See readFiles() in schedule.ts, which calls it for every range in order.
 * ```
 * @throws {SourceError} when the range cannot be read; what was applied before stands.
 */
export async function applyRange(
  reading: Reading,
  read: FileRead,
  range: Range,
  scanned?: Scanned,
): Promise<void> {
  const { tally } = reading;
  const { format } = read;
  const clock = clockOf(reading, read);
  const instantOf = (text: string) => clockInstant(clock, text);
  const apply = (record: AuditRecord) => applyRecord(tally, record, instantOf);
  const bytesInstant = (bytes: Uint8Array, start: number, end: number) =>
    clockInstantOfBytes(clock, bytes, start, end);
  const advance = (end: number) => {
    read.checkpoint.offset = end;
    read.checkpoint.lastInstant = clock.previous;
    if (clock.previous !== undefined) reading.previousInstant = clock.previous;
  };
  const event = (e: LocatedEvent) => applyEvent(tally, e, bytesInstant);
  const known = new Set(scanned?.task.pending.map(([host, id]) => pendingKey(host, id)));
  if (scanned && [...tally.pending.keys()].every((key) => known.has(key))) {
    const { result } = scanned;
    // The Worker's lines, scanned as the range would be; its counts are the range's.
    scanBlock(result.lines, {
      timestampCommas: format.timestampCommas,
      syslogIdent: format.syslogIdent,
      watched: tally.watched,
      visit: apply,
      event,
      stats: { candidates: 0, malformed: 0 },
    });
    advance(result.offset);
    reading.scan.candidates += result.stats.candidates;
    reading.scan.malformed += result.stats.malformed;
    if (result.error) {
      throw new SourceError(range.path, result.error.message, { problem: result.error.problem });
    }
    read.bytesRead += result.bytesRead;
    read.longLines += result.longLines;
    return;
  }
  if (scanned) {
    reading.rescans++;
    reading.log.log(
      "DEBUG",
      "scanning a range again: a change-user is pending that its Worker missed",
      { file: range.path, from: range.from },
    );
  }
  const result = await scanRange(range, {
    format,
    watched: tally.watched,
    visit: apply,
    event,
    stats: reading.scan,
    onBlock: advance,
  });
  read.bytesRead += result.bytesRead;
  read.longLines += result.longLines;
}
