/**
 * What the runs tell the report about reading the audit log.
 *
 * A run reads the audit log successfully when it finds an audit file and
 * reads every file it lists (no error): what the logs held when it started
 * has then been read, or recorded as lost to rotation. A run that finds no
 * audit file (an `AuditLogFile` typo, the server logging to syslog) or
 * cannot read one (permissions, a corrupt gzip) reads nothing certain. A
 * successful run after such runs reads what is still there, but a file
 * rotated away meanwhile without ever being read leaves no trace: the time
 * between the two successful reads may hold logins never read.
 *
 * Runs also count sign-ins they could not give to an account: change-users
 * whose account no later line named, sign-ins with a timestamp that cannot be
 * read. Any account may have been one of them.
 *
 * Runs before schema 4 did not record the audit files they found; they count
 * as having found one, as the report judged them before.
 *
 * @module
 */

import type { RunRecord } from "./report_reads.ts";

/** Consecutive runs that did not read the audit log successfully. Times are epoch milliseconds. */
export interface NotRead {
  /** The start of the last successful read before them; `undefined`: there was none. */
  after?: number;
  /** The start of the successful read that ended them; `undefined`: none yet. */
  until?: number;
  runs: number;
  /** Of them, the runs that found no audit file. */
  noAuditFile: number;
  /** Of them, the runs that could not read a file, and the files, summed over the runs. */
  withErrors: number;
  failedFiles: number;
}

/** The sign-ins one run could not give to an account. */
export interface Unattributed {
  /** The run's start: they were written before it. */
  at: number;
  changeUsers: number;
  badTimestamps: number;
}

/** What the runs tell about reading, for the verdicts. */
export interface ReadHistory {
  /** The start of the last run that read the audit log successfully; `undefined`: none did. */
  lastRead?: number;
  /** The stretches of runs that did not, oldest first; only the last may lack `until`. */
  notRead: NotRead[];
  /** The runs with sign-ins they could not give to an account, oldest first. */
  unattributed: Unattributed[];
}

function readSuccessfully(run: RunRecord): boolean {
  return run.errors === 0 && run.auditFiles !== 0;
}

/**
 * Sums up the runs (any order).
 *
 * @example
 * ```ts
 * const history = readHistory([
 *   { startedMs: 100, auditFiles: 2, errors: 0 },
 *   { startedMs: 200, auditFiles: 0, errors: 0 },
 *   { startedMs: 300, auditFiles: 2, errors: 0, changeUsersDropped: 1 },
 * ]);
 * history.lastRead; // 300
 * history.notRead; // [{ after: 100, until: 300, runs: 1, noAuditFile: 1, withErrors: 0, failedFiles: 0 }]
 * history.unattributed; // [{ at: 300, changeUsers: 1, badTimestamps: 0 }]
 * ```
 */
export function readHistory(runs: RunRecord[]): ReadHistory {
  const history: ReadHistory = { notRead: [], unattributed: [] };
  let open: NotRead | undefined;
  for (const run of [...runs].sort((a, b) => a.startedMs - b.startedMs)) {
    const changeUsers = run.changeUsersDropped ?? 0, badTimestamps = run.badTimestamps ?? 0;
    if (changeUsers + badTimestamps > 0) {
      history.unattributed.push({ at: run.startedMs, changeUsers, badTimestamps });
    }
    if (readSuccessfully(run)) {
      if (open) open.until = run.startedMs;
      open = undefined;
      history.lastRead = run.startedMs;
      continue;
    }
    if (!open) {
      open = { runs: 0, noAuditFile: 0, withErrors: 0, failedFiles: 0 };
      if (history.lastRead !== undefined) open.after = history.lastRead;
      history.notRead.push(open);
    }
    open.runs++;
    if (run.auditFiles === 0) open.noAuditFile++;
    if (run.errors > 0) {
      open.withErrors++;
      open.failedFiles += run.errors;
    }
  }
  return history;
}

/** The sign-ins no account could be given, summed over some runs. */
export interface UnattributedSum {
  changeUsers: number;
  badTimestamps: number;
  /** The first and last of those runs (their starts); `undefined` when there are none. */
  first?: number;
  last?: number;
}

/**
 * Sums the sign-ins no account could be given that runs started at or after
 * `since` read (all when `since` is `undefined`): those may lie in a period
 * that starts at `since`.
 *
 * @example
 * ```ts
 * const runs = [{ at: 5, changeUsers: 1, badTimestamps: 0 }, { at: 9, changeUsers: 0, badTimestamps: 2 }];
 * sumUnattributed(runs, 6); // { changeUsers: 0, badTimestamps: 2, first: 9, last: 9 }
 * ```
 */
export function sumUnattributed(runs: Unattributed[], since?: number): UnattributedSum {
  const sum: UnattributedSum = { changeUsers: 0, badTimestamps: 0 };
  for (const u of runs) {
    if (since !== undefined && u.at < since) continue;
    sum.changeUsers += u.changeUsers;
    sum.badTimestamps += u.badTimestamps;
    sum.first ??= u.at;
    sum.last = u.at;
  }
  return sum;
}
