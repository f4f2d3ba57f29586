/**
 * Reading the plugin's entries from the systemd journal (`AuditSource =
 * journal`) into the run's tally, from the stored cursor on. The new cursor
 * is written in the run's one transaction, with everything else, so that an
 * entry counts exactly once also across killed runs. A stored cursor whose
 * entry is gone, with entries missing after it, is a loss.
 *
 * @module
 */

import { syslogFormat, timestampReader } from "../format/line.ts";
import { scanBlock } from "../format/scan.ts";
import { SourceError } from "../input/file.ts";
import { journalName, type JournalSource, readJournal } from "../input/journal.ts";
import { clockInstant, createLogClock } from "../time/clock.ts";
import { applyRecord } from "./aggregate.ts";
import type { Reading } from "./apply.ts";
import type { Failures } from "./failures.ts";
import type { Loss } from "./losses.ts";

/** What reading the journal did. */
export interface JournalOutcome {
  /** The source the cursor belongs to (`journalName`), and the cursor to store, if any. */
  source: string;
  cursor?: string;
  entries: number;
  bytes: number;
  losses: Loss[];
}

/** A cursor's time (`t=`, epoch microseconds, hex) in milliseconds. */
function cursorTime(cursor: string): number | undefined {
  const t = /(?:^|;)t=([0-9a-f]+)/.exec(cursor)?.[1];
  return t === undefined ? undefined : Number(BigInt("0x" + t) / 1000n);
}

/**
 * Reads the journal's new entries into `reading`'s tally. A `journalctl` that
 * cannot be run or fails is recorded in `failures` (what was read before it
 * failed stands, with its cursor).
 *
 * @example
 * ```ts
 * // runTracking() in run.ts calls it when AuditSource = journal.
 * ```
 */
export async function readJournalEntries(options: {
  reading: Reading;
  source: JournalSource;
  failures: Failures;
}): Promise<JournalOutcome> {
  const { reading, source, failures } = options;
  const { tally, log } = reading;
  const base = reading.formats.syslog ?? reading.formats.file!;
  const format = syslogFormat(base, source.ident);
  const clock = createLogClock(
    timestampReader(format, { zone: reading.zone, mtimeMs: Date.now() }),
    reading.zone,
  );
  const instantOf = (text: string) => clockInstant(clock, text);
  const scan = {
    timestampCommas: 0,
    syslogIdent: source.ident,
    watched: tally.watched,
    visit: (record: Parameters<typeof applyRecord>[1]) => applyRecord(tally, record, instantOf),
    stats: reading.scan,
  };
  const name = journalName(source);
  const outcome: JournalOutcome = {
    source: name,
    cursor: source.cursor,
    entries: 0,
    bytes: 0,
    losses: [],
  };
  try {
    const read = await readJournal(source, (block, cursor) => {
      scanBlock(block, scan);
      outcome.cursor = cursor;
    });
    outcome.entries = read.entries;
    outcome.bytes = read.bytes;
    outcome.cursor = read.cursor;
    if (read.gap?.missing) {
      const loss: Loss = {
        path: name,
        fingerprint: "journal",
        unreadBytes: 0,
        from: source.cursor ? cursorTime(source.cursor) : undefined,
        to: cursorTime(read.gap.first) ?? Date.now(),
      };
      outcome.losses.push(loss);
      log.log("ERROR", "journal entries may be lost: the last entry read is gone", {
        journal: name,
        from: loss.from === undefined ? undefined : new Date(loss.from).toISOString(),
        to: new Date(loss.to).toISOString(),
      });
    }
  } catch (e) {
    if (!(e instanceof SourceError)) throw e;
    failures.errors.push({ path: e.path, message: e.message });
    log.log("ERROR", e.message, { journal: e.path });
  }
  log.log("DEBUG", "journal read", { journal: name, entries: outcome.entries });
  return outcome;
}
