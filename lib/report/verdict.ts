/**
 * The verdict on one account: `used`, `unused`, `never-seen` or `unknown`,
 * and the reason in words. A wrong `unused` is the costliest mistake the tool
 * can make (the DBA drops an account in use), so whatever the evidence cannot
 * decide is `unknown`:
 *
 * - `used`: a login certainly of this account in the period (without a
 *   period: ever);
 * - otherwise `unknown` when logins in the period may have been this account
 *   (the logged host stands for several accounts, or they may be the report's
 *   own), when audit data of the period was lost, or when watching began
 *   after the period's start (or has not begun);
 * - otherwise `unused` when it had logins, all before the period, and
 *   `never-seen` when it had none since watching began.
 *
 * @module
 */

import type { LostRange } from "../store/report_reads.ts";

/** The statuses, in the order a DBA reads them. */
export const STATUSES = ["used", "unused", "never-seen", "unknown"] as const;

/** A verdict's status. */
export type Status = typeof STATUSES[number];

/** Logins that may have been an account's, and why they are not certain. */
export interface Doubt {
  logins: number;
  /** The last of them (epoch milliseconds), if known. */
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
  /** When the last run started: what the logs held then has been read. */
  readUntil?: number;
  losses: LostRange[];
  /** Formats an instant for the reason. */
  time: (ms: number) => string;
}

/** A status with its reason. */
export interface Verdict {
  status: Status;
  reason: string;
}

/** A last run older than this before the report's time leaves the rest of the period unread. */
export const STALE_MS = 3_600_000;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * Judges one account's evidence.
 *
 * @example
 * ```ts
 * const ctx = {
 *   now: 100 * 86_400_000, periodMs: 30 * 86_400_000, watchedSince: 0, losses: [],
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
    if (!inPeriod(d.lastLogin)) continue;
    const count = d.logins > 0
      ? `${plural(d.logins, "login")}, the last ${time(d.lastLogin!)}, `
      : "";
    causes.push(`${count}${d.why}`);
  }
  for (const loss of ctx.losses) {
    if (since !== undefined && loss.to < since) continue;
    const from = loss.from === undefined ? "before" : `from ${time(loss.from)}`;
    causes.push(
      `audit data lost ${from} to ${time(loss.to)} (${loss.unreadBytes} bytes of ${loss.path})`,
    );
  }
  if (watchedSince === undefined) {
    causes.push("nothing has been read yet: no run has recorded an event");
  } else if (since !== undefined && watchedSince > since) {
    causes.push(
      `watched only since ${time(watchedSince)}, after the period began (${time(since)})`,
    );
  }
  if (ctx.readUntil !== undefined && now - ctx.readUntil > STALE_MS) {
    causes.push(
      `the last run started at ${time(ctx.readUntil)}, over an hour before ${
        time(now)
      }: later logins are not read yet`,
    );
  }
  if (causes.length > 0) return { status: "unknown", reason: causes.join("; ") };
  if (lastSeen !== undefined) {
    return { status: "unused", reason: `last login ${time(lastSeen)}, before ${time(since!)}` };
  }
  return { status: "never-seen", reason: `no login since ${time(watchedSince!)}` };
}
