/**
 * Notices: conditions that are no error but mean the run did nothing useful
 * (no file under `AuditLogPath` is an audit log). Each is said at ERROR, so
 * that cron mails it at the default `LogLevel`, the first run it holds and
 * again once a day while it persists; the database keeps when it was said.
 *
 * @module
 */

import { basename } from "node:path";
import type { Logger } from "../log.ts";
import type { PassedOver } from "./checkpoints.ts";
import type { Failures } from "./failures.ts";

/** A condition said once and repeated while it holds. Times are epoch milliseconds. */
export interface Notice {
  kind: string;
  /** When a run first found it. */
  firstMs: number;
  /** When a run last said it. */
  saidMs: number;
}

/** The kind of the notice that no listed file is an audit log. */
export const NO_AUDIT_LOG = "no audit log";

/** A notice that still holds is said again after this long. */
export const NOTICE_REPEAT_MS = 86_400_000;

/** Files named in the notice per reason; more are counted. */
const NAMES_PER_REASON = 5;

/** What {@link noticeNoAuditLog} needs. */
export interface NoAuditLogOptions {
  /** `AuditLogPath` and `AuditLogFile`. */
  path: string;
  name?: string;
  /** How many files the listing returned. */
  listed: number;
  passedOver: PassedOver[];
  failures: Failures;
  /** The notice as stored, if a run said it before. */
  stored?: Notice;
  nowMs: number;
  log: Logger;
}

function names(paths: string[]): string {
  const shown = paths.slice(0, NAMES_PER_REASON).map((p) => basename(p)).join(", ");
  return paths.length > NAMES_PER_REASON
    ? `${shown} (+${paths.length - NAMES_PER_REASON} more)`
    : shown;
}

/**
 * Says, in one line, that no listed file is an audit log and why each was
 * passed over, unless a run said so less than a day ago; returns the notice
 * to keep.
 *
 * @example
 * ```ts
 * import { createLogger } from "../log.ts";
 * noticeNoAuditLog({
 *   path: "/var/lib/mysql", listed: 0, passedOver: [],
 *   failures: { errors: [], files: [], vanishedMidRun: false },
 *   nowMs: Date.now(), log: createLogger("ERROR"),
 * }).kind; // "no audit log"
 * ```
 */
export function noticeNoAuditLog(options: NoAuditLogOptions): Notice {
  const { stored, nowMs } = options;
  if (stored && nowMs - stored.saidMs < NOTICE_REPEAT_MS) return stored;
  const by = new Map<string, string[]>();
  for (const p of options.passedOver) by.set(p.reason, [...by.get(p.reason) ?? [], p.file.path]);
  const unreadable = options.failures.errors.map((e) => e.path);
  options.log.log(
    "ERROR",
    options.listed === 0
      ? "No file in AuditLogPath: nothing was read"
      : "No audit log in AuditLogPath: nothing was read",
    {
      path: options.path,
      name: options.name || undefined,
      files: options.listed,
      since: stored ? new Date(stored.firstMs).toISOString() : undefined,
      ...Object.fromEntries(
        [...by].map(([why, paths]) => [why.replaceAll(" ", "_"), names(paths)]),
      ),
      unreadable: unreadable.length > 0 ? names(unreadable) : undefined,
    },
  );
  return { kind: NO_AUDIT_LOG, firstMs: stored?.firstMs ?? nowMs, saidMs: nowMs };
}
