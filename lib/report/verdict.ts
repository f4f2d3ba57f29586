/**
 * The verdict on one account: `used`, `unused`, `never-seen` or `unknown`,
 * and the reason in words. A wrong `unused` is the costliest mistake the tool
 * can make (the DBA drops an account in use), so whatever the evidence cannot
 * decide is `unknown`:
 *
 * - `used`: a login certainly of this account in the period (without a
 *   period: ever);
 * - otherwise `unknown` when logins in the period may have been this account
 *   (the logged host stands for several accounts, they may be the report's
 *   own, or no account could be given a sign-in), when audit data of the
 *   period was lost or not read (runs that found no audit file or could not
 *   read one), when the audit log has not been read successfully since an
 *   hour before the period's end, or when watching began after the period's
 *   start (or has not begun);
 * - otherwise `unused` when it had logins, all before the period, and
 *   `never-seen` when it had none since watching began.
 *
 * @module
 */

import type { LostRange } from "../store/report_reads.ts";
import {
  type NotRead,
  type ReadHistory,
  sumUnattributed,
  type UnattributedSum,
} from "../store/read_history.ts";

/** The statuses, in the order a DBA reads them. */
export const STATUSES = ["used", "unused", "never-seen", "unknown"] as const;

/** A verdict's status. */
export type Status = typeof STATUSES[number];

/** Logins that may have been an account's, and why they are not certain. */
export interface Doubt {
  logins: number;
  /** The last of them (epoch milliseconds); `undefined`: not known, so it may lie in any period. */
  lastLogin?: number;
  /** In words: where they came from and what else they may have been. */
  why: string;
}

/** What is known of one account's logins. */
export interface Evidence {
  /** The last login certainly of this account (epoch milliseconds). */
  lastSeen?: number;
  doubts: Doubt[];
}

/** What every verdict of a report is judged against. */
export interface VerdictContext {
  /** The end of the period (epoch milliseconds). */
  now: number;
  /** The period's length (`--unused-for`); without it, the whole time watched. */
  periodMs?: number;
  /** Since when every server host has been watched; `undefined`: nothing read yet. */
  watchedSince?: number;
  /** When the audit log was read successfully, and which runs did not read it. */
  reads: ReadHistory;
  losses: LostRange[];
  /** Formats an instant for the reason. */
  time: (ms: number) => string;
}

/** A status with its reason. */
export interface Verdict {
  status: Status;
  reason: string;
}

/** A last successful read older than this before the report's time leaves the rest unread. */
export const STALE_MS = 3_600_000;

/** `n` and the word, plural unless `n` is 1. */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Why runs did not read the audit log: "2 runs found no audit file, 1 run could not read 4 files". */
function notReadWords(n: NotRead): string {
  const parts: string[] = [];
  if (n.noAuditFile > 0) parts.push(`${plural(n.noAuditFile, "run")} found no audit file`);
  if (n.withErrors > 0) {
    parts.push(`${plural(n.withErrors, "run")} could not read ${plural(n.failedFiles, "file")}`);
  }
  return parts.join(", ");
}

/**
 * The sign-ins no account could be given, in words (empty when none).
 *
 * @example
 * ```ts
 * unattributedWords({ changeUsers: 2, badTimestamps: 1 });
 * // "3 sign-ins no account could be given (2 change-users whose account no line named, 1 with a timestamp that cannot be read)"
 * ```
 */
export function unattributedWords(sum: UnattributedSum): string {
  const total = sum.changeUsers + sum.badTimestamps;
  if (total === 0) return "";
  const parts: string[] = [];
  if (sum.changeUsers > 0) {
    parts.push(`${plural(sum.changeUsers, "change-user")} whose account no line named`);
  }
  if (sum.badTimestamps > 0) {
    parts.push(`${sum.badTimestamps} with a timestamp that cannot be read`);
  }
  return `${plural(total, "sign-in")} no account could be given (${parts.join(", ")})`;
}

/** The causes of doubt that come from reading: runs that did not read, sign-ins not given. */
function readingCauses(ctx: VerdictContext, since: number | undefined): string[] {
  const { reads, now, time } = ctx;
  const causes: string[] = [];
  for (const n of reads.notRead) {
    if (n.until === undefined || (since !== undefined && n.until < since)) continue;
    const span = n.after === undefined
      ? `before ${time(n.until)}`
      : `between ${time(n.after)} and ${time(n.until)}`;
    causes.push(
      `the audit log was not read successfully ${span} (${
        notReadWords(n)
      }): logins of that time may have been rotated away unread`,
    );
  }
  const last = reads.notRead.at(-1);
  const open = last?.until === undefined ? last : undefined;
  if (reads.lastRead === undefined) {
    const why = open ? ` (${notReadWords(open)})` : "";
    causes.push(`no run has read the audit log successfully yet${why}`);
  } else if (now - reads.lastRead > STALE_MS) {
    const later = open ? `; since then ${notReadWords(open)}` : "";
    causes.push(
      `the audit log was last read successfully at ${time(reads.lastRead)}, over an hour before ${
        time(now)
      }${later}: later logins are not read yet`,
    );
  }
  const sum = sumUnattributed(reads.unattributed, since);
  const words = unattributedWords(sum);
  if (words) {
    const runs = sum.first === sum.last
      ? `the run of ${time(sum.first!)}`
      : `the runs from ${time(sum.first!)} to ${time(sum.last!)}`;
    causes.push(`${words}, read by ${runs}: any account may have logged in`);
  }
  return causes;
}

/**
 * Judges one account's evidence.
 *
 * @example
 * ```ts
 * const ctx = {
 *   now: 100 * 86_400_000, periodMs: 30 * 86_400_000, watchedSince: 0, losses: [],
 *   reads: { lastRead: 100 * 86_400_000, notRead: [], unattributed: [] },
 *   time: (ms: number) => new Date(ms).toISOString().slice(0, 10),
 * };
 * verdict({ lastSeen: 90 * 86_400_000, doubts: [] }, ctx).status; // "used"
 * verdict({ lastSeen: 10 * 86_400_000, doubts: [] }, ctx).status; // "unused"
 * verdict({ doubts: [] }, ctx); // { status: "never-seen", reason: "no login since 1970-01-01" }
 * verdict({ doubts: [] }, { ...ctx, watchedSince: 80 * 86_400_000 }).status; // "unknown"
 * ```
 */
export function verdict(evidence: Evidence, ctx: VerdictContext): Verdict {
  const { now, periodMs, watchedSince, time } = ctx;
  const since = periodMs === undefined ? undefined : now - periodMs;
  const inPeriod = (t: number | undefined) =>
    t !== undefined && (since === undefined || t >= since);
  const { lastSeen } = evidence;
  if (inPeriod(lastSeen)) return { status: "used", reason: `last login ${time(lastSeen!)}` };
  const causes: string[] = [];
  for (const d of evidence.doubts) {
    // A doubt with no time may lie in any period.
    if (d.lastLogin !== undefined && !inPeriod(d.lastLogin)) continue;
    const count = d.logins === 0
      ? ""
      : d.lastLogin === undefined
      ? `${plural(d.logins, "login")} at an unknown time, `
      : `${plural(d.logins, "login")}, the last ${time(d.lastLogin)}, `;
    causes.push(`${count}${d.why}`);
  }
  for (const loss of ctx.losses) {
    if (since !== undefined && loss.to < since) continue;
    const from = loss.from === undefined ? "before" : `from ${time(loss.from)}`;
    // The bytes known unread are a lower bound (the file may have grown after it was last read).
    const bytes = loss.unreadBytes > 0
      ? `, at least ${plural(loss.unreadBytes, "byte")} unread`
      : "";
    causes.push(
      `audit data lost ${from} to ${
        time(loss.to)
      } (${loss.path} was removed before it was read to the end${bytes})`,
    );
  }
  if (watchedSince === undefined) {
    causes.push("nothing has been read yet: no run has recorded an event");
  } else if (since !== undefined && watchedSince > since) {
    causes.push(
      `watched only since ${time(watchedSince)}, after the period began (${time(since)})`,
    );
  }
  causes.push(...readingCauses(ctx, since));
  if (causes.length > 0) return { status: "unknown", reason: causes.join("; ") };
  if (lastSeen !== undefined) {
    return { status: "unused", reason: `last login ${time(lastSeen)}, before ${time(since!)}` };
  }
  return { status: "never-seen", reason: `no login since ${time(watchedSince!)}` };
}
