/**
 * A run's figures: one record, built once at the end of the run and handed to
 * every consumer (the `run finished` log line, the `runs` row; a `--json`
 * summary or a metrics file would take the same record).
 *
 * @module
 */

import type { PassReason } from "./checkpoints.ts";
import type { Attrs } from "../log.ts";

/** Why a listed file was not read this run. */
/** Why a listed file was not read this run. */
export type FileSkipReason = PassReason | "unchanged" | "nothing new" | "unreadable";

/** A file a run listed: read (its new bytes), or passed over with the reason. */
export interface FileOutcome {
  path: string;
  /** New bytes read (decompressed for gzip); 0 when passed over. */
  bytes: number;
  /** Set when the file was passed over. */
  passed?: FileSkipReason;
}

/** What one run did. Times are epoch milliseconds. */
export interface RunMetrics {
  startedMs: number;
  finishedMs: number;
  /** Audit files with new bytes read. */
  filesRead: number;
  /** Bytes of content read (decompressed for gzip). */
  bytesRead: number;
  logins: number;
  failed: number;
  /** Candidate lines that are no audit event, and events with a timestamp not in the layout. */
  malformed: number;
  /** Of those, sign-ins (successful or not) whose timestamp could not be read: dropped. */
  badTimestamps: number;
  /** Lines skipped for being longer than the line limit. */
  longLines: number;
  /** Lines naming nobody that are no successful change-user. */
  emptyUser: number;
  /** Change-users whose account a later line named. */
  changeUsersResolved: number;
  /** Change-users dropped: the server restarted, or a second one came first. */
  changeUsersDropped: number;
  /** Change-users still waiting for a line that names their account. */
  changeUsersPending: number;
  /** Lines the scanner looked at: connection events and lines of watched connections. */
  candidates: number;
  /** Ranges scanned again on the main thread: a change-user was pending that their Worker missed. */
  rescans: number;
  /** Files removed before they were read to the end. */
  losses: number;
  /** Files that could not be read. */
  errors: number;
  /** Audit files found (read, unchanged or unreadable); 0: nothing under `AuditLogPath` is one. */
  auditFiles: number;
  /** Every file listed, read or passed over. */
  files: FileOutcome[];
  /** Accounts with activity this run that the database did not hold before, and that it did. */
  accountsInserted: number;
  accountsUpdated: number;
  /** Accounts in the database after the run. */
  accountsTotal: number;
  /** The watermark (newest file modification time handled) before and after the run. */
  watermarkBeforeMs?: number;
  watermarkAfterMs?: number;
  /** Whether the run was rolled back on purpose (`--dry-run`). */
  dryRun: boolean;
}

/**
 * The attributes of the `run finished` log line.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * import { runTracking } from "./run.ts";
 * const config = await loadConfig("/etc/conntracker/conntracker.ini");
 * const { metrics } = await runTracking({ config, log: createLogger("WARN") });
 * metricsAttrs(metrics).logins === metrics.logins; // true
 * ```
 */
export function metricsAttrs(m: RunMetrics): Attrs {
  return {
    files: m.filesRead,
    bytes: m.bytesRead,
    logins: m.logins,
    failed: m.failed,
    change_users_pending: m.changeUsersPending,
    malformed: m.malformed,
    long_lines: m.longLines,
    empty_user: m.emptyUser,
    change_users_resolved: m.changeUsersResolved,
    change_users_dropped: m.changeUsersDropped,
    candidates: m.candidates,
    rescans: m.rescans,
    losses: m.losses,
    errors: m.errors,
    accounts_inserted: m.accountsInserted,
    accounts_updated: m.accountsUpdated,
    ms: m.finishedMs - m.startedMs,
    ...(m.dryRun ? { dry_run: true } : {}),
  };
}
