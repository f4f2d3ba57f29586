/**
 * `run --json`: the run as one JSON object on stdout, built from its one
 * metrics record.
 *
 * @module
 */

import type { Loss } from "../track/losses.ts";
import type { RunMetrics } from "../track/metrics.ts";
import type { RunSummary } from "../track/run.ts";

/** The `--json` object of a run. Times are ISO 8601 (UTC). */
export interface RunJson {
  dry_run: boolean;
  started: string;
  finished: string;
  duration_ms: number;
  watermark: { before: string | null; after: string | null };
  files: {
    read: { path: string; bytes: number }[];
    passed_over: { path: string; reason: string }[];
  };
  bytes_read: number;
  lines: { candidates: number; malformed: number; long: number };
  events: {
    logins: number;
    failed: number;
    empty_user: number;
    change_users_resolved: number;
    change_users_dropped: number;
    change_users_pending: number;
  };
  accounts: { inserted: number; updated: number; total: number };
  losses: { path: string; unread_bytes: number; from: string | null; to: string }[];
  errors: { path: string; message: string }[];
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

/**
 * Builds the `--json` object of a run.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * import { runTracking } from "../track/run.ts";
 * const config = await loadConfig("/etc/conntracker/conntracker.ini");
 * const summary = await runTracking({ config, log: createLogger("ERROR"), dryRun: true });
 * console.log(JSON.stringify(runJson(summary)));
 * ```
 */
export function runJson(summary: RunSummary): RunJson {
  const m: RunMetrics = summary.metrics;
  return {
    dry_run: m.dryRun,
    started: iso(m.startedMs)!,
    finished: iso(m.finishedMs)!,
    duration_ms: m.finishedMs - m.startedMs,
    watermark: { before: iso(m.watermarkBeforeMs), after: iso(m.watermarkAfterMs) },
    files: {
      read: m.files.filter((f) => !f.passed).map((f) => ({ path: f.path, bytes: f.bytes })),
      passed_over: m.files.filter((f) => f.passed)
        .map((f) => ({ path: f.path, reason: f.passed! })),
    },
    bytes_read: m.bytesRead,
    lines: { candidates: m.candidates, malformed: m.malformed, long: m.longLines },
    events: {
      logins: m.logins,
      failed: m.failed,
      empty_user: m.emptyUser,
      change_users_resolved: m.changeUsersResolved,
      change_users_dropped: m.changeUsersDropped,
      change_users_pending: m.changeUsersPending,
    },
    accounts: { inserted: m.accountsInserted, updated: m.accountsUpdated, total: m.accountsTotal },
    losses: summary.losses.map((l: Loss) => ({
      path: l.path,
      unread_bytes: l.unreadBytes,
      from: iso(l.from),
      to: iso(l.to)!,
    })),
    errors: summary.errors,
  };
}
