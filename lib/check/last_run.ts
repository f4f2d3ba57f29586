/**
 * The last runs, from the database's `runs` and `losses` tables (and the
 * `MetricsFile`, which also counts failed runs: those roll back and leave no
 * row).
 *
 * @module
 */

import type { Config } from "../config.ts";
import { guard, NoRunYetError, openStoreReadOnly, storeExists } from "../store/database.ts";
import { type Finding, finding } from "./finding.ts";
import type { Interval } from "./interval.ts";
import { formatSpan } from "./rotation.ts";

/** What the database tells about the recent runs. */
export interface RunHistory {
  last?: {
    startedMs: number;
    finishedMs: number;
    filesRead: number;
    bytesRead: number;
    errors: number;
    losses: number;
  };
  /** Losses detected in the last 7 days, newest first. */
  losses: HistoryLoss[];
  /** Bytes per millisecond read by the runs of the last day, when there were two or more. */
  rate?: number;
}

/** A loss as the `losses` table keeps it. */
export interface HistoryLoss {
  path: string;
  /** Bytes known unread (more may have been written: 0 says nothing). */
  unreadBytes: number;
  detectedMs: number;
  /** The events lost lie between these instants; `fromMs` is unknown when no event was read. */
  fromMs?: number;
  toMs: number;
}

const WEEK_MS = 7 * 86_400_000;

/**
 * Reads the recent runs and losses; `undefined` when the database does not
 * exist (the database findings tell why).
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * const history = readRunHistory(await loadConfig("/etc/conntracker/conntracker.ini"), Date.now());
 * ```
 * @throws {StoreError} when the database is there but cannot be read (not a
 * database, permissions).
 */
export function readRunHistory(config: Config, nowMs: number): RunHistory | undefined {
  if (!storeExists(config.sqlitePath)) return undefined;
  let store;
  try {
    store = openStoreReadOnly(config.sqlitePath, {
      layout: config.timeFormatDb,
      zone: config.timeLocation,
    });
  } catch (e) {
    if (e instanceof NoRunYetError) return undefined; // Removed since it was looked for.
    throw e;
  }
  try {
    return guard(config.sqlitePath, () => {
      const { db } = store;
      const tables = new Set(
        (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
          name: string;
        }[]).map((r) => r.name),
      );
      if (!tables.has("runs")) return { losses: [] };
      const last = db.prepare(
        `SELECT started_ms AS startedMs, finished_ms AS finishedMs, files_read AS filesRead,
           bytes_read AS bytesRead, errors, losses FROM runs ORDER BY finished_ms DESC LIMIT 1`,
      ).get() as RunHistory["last"];
      const day = db.prepare(
        `SELECT min(started_ms) AS fromMs, max(finished_ms) AS toMs, sum(bytes_read) AS bytes,
           count(*) AS n FROM runs WHERE finished_ms > ?`,
      ).get(nowMs - 86_400_000) as { fromMs: number; toMs: number; bytes: number; n: number };
      const losses = db.prepare(
        `SELECT path, unread_bytes AS unreadBytes, detected_ms AS detectedMs, from_ms AS fromMs,
           to_ms AS toMs FROM losses WHERE detected_ms > ? ORDER BY detected_ms DESC`,
      ).all(nowMs - WEEK_MS) as (Omit<HistoryLoss, "fromMs"> & { fromMs: number | null })[];
      const span = day.toMs - day.fromMs;
      return {
        last: last ? { ...last } : undefined,
        losses: losses.map((l) => ({ ...l, fromMs: l.fromMs ?? undefined })),
        rate: day.n >= 2 && span > 0 && day.bytes > 0 ? day.bytes / span : undefined,
      };
    });
  } finally {
    store.db.close();
  }
}

function files(n: number): string {
  return n === 1 ? "1 audit file" : `${n} audit files`;
}

/**
 * What losses took, in words: the time ranges whose events were never read
 * (the newest three), and the bytes only when some are known unread: a file
 * still being written when it was last read may have lost more than that, so
 * 0 says nothing.
 */
function lost(losses: HistoryLoss[]): string {
  const time = (ms: number) => new Date(ms).toISOString();
  const ranges = losses.slice(0, 3).map((l) =>
    `${l.fromMs === undefined ? "up" : `from ${time(l.fromMs)}`} to ${time(l.toMs)}`
  );
  const more = losses.length > 3 ? ` and ${losses.length - 3} more` : "";
  const bytes = losses.reduce((sum, l) => sum + l.unreadBytes, 0);
  return `the events ${ranges.join(", ")}${more} were never read` +
    (bytes > 0 ? ` (at least ${bytes} bytes)` : "") + "; see the losses table";
}

/** What {@link lastRunFindings} weighs. */
export interface LastRunInput {
  history?: RunHistory;
  nowMs: number;
  interval?: Interval;
  /** The `MetricsFile`'s text, when it is set and exists. */
  metricsText?: string;
}

/**
 * The findings about the last runs.
 *
 * @example
 * ```ts
 * lastRunFindings({ history: { losses: [] }, nowMs: Date.now() }); // a warn: no run yet
 * ```
 */
export function lastRunFindings(input: LastRunInput): Finding[] {
  const { history, nowMs, interval } = input;
  if (!history) return [];
  const out: Finding[] = [];
  const { last } = history;
  if (!last) {
    out.push(finding("last-run", "warn", "No run has finished yet", "run conntracker"));
  } else {
    const age = nowMs - last.finishedMs;
    const when = `${new Date(last.finishedMs).toISOString()} (${formatSpan(age)} ago)`;
    if (interval && age > 3 * interval.ms) {
      out.push(
        finding(
          "last-run",
          "warn",
          `The last run finished ${when}, more than three intervals ago`,
          "check that the timer or cron job runs (systemctl list-timers conntracker.timer; " +
            "journalctl -u conntracker)",
        ),
      );
    } else {
      out.push(
        finding(
          "last-run",
          last.errors > 0 ? "warn" : "ok",
          `The last run finished ${when}: ${last.filesRead} files, ${last.bytesRead} bytes` +
            (last.errors > 0 ? `, ${last.errors} files it could not read` : ""),
          last.errors > 0
            ? "see its ERROR lines (cron mail or journalctl -u conntracker)"
            : undefined,
        ),
      );
    }
    if (last.losses > 0) {
      const found = history.losses.filter((l) => l.detectedMs >= last.startedMs);
      out.push(
        finding(
          "last-run",
          "error",
          `The last run found ${files(last.losses)} removed before ` +
            `${last.losses === 1 ? "it was" : "they were"} read to the end` +
            (found.length > 0 ? `: ${lost(found)}` : ""),
          "run conntracker more often, or keep more rotations (see rotation)",
        ),
      );
    }
  }
  if (history.losses.length > 0 && !(last && last.losses > 0)) {
    out.push(
      finding(
        "last-run",
        "warn",
        `${files(history.losses.length)} lost to rotation in the last 7 days: ` +
          lost(history.losses),
        "run conntracker more often, or keep more rotations (see rotation)",
      ),
    );
  }
  if (input.metricsText && /^conntracker_last_run_success 0$/m.test(input.metricsText)) {
    out.push(
      finding(
        "last-run",
        "error",
        "The MetricsFile says the last run failed",
        "see its ERROR line (cron mail or journalctl -u conntracker)",
      ),
    );
  }
  return out;
}
