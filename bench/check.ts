/**
 * The bench's checks, straight from the SQLite database: the accounts against
 * a generator's record, and what the last run says it read.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { instantAt } from "../tests/helpers.ts";
import type { AccountTruth } from "./generate.ts";

/** The old tool's watermark row in `Accounts`: not an account. */
const WATERMARK = "mysql@localhost";

/** `20261102 00:00:07` as the default `TimeFormatDB` writes it in UTC. */
function lastSeenText(auditTimestamp: string): string {
  return auditTimestamp.replace(/^(\d{4})(\d\d)(\d\d) /, "$1-$2-$3 ") + "+00:00";
}

/**
 * Compares the database with a generator's record: every `user@host` and
 * only those, with its logins, failed attempts and time of the last failed
 * attempt (`activity`), and its `last_seen` (`Accounts`, present exactly for
 * the accounts with a login). Returns the differences, at most `limit`; none
 * when the database is right.
 *
 * @example
 * ```ts
 * const wrong = compareWithTruth("/tmp/x/audit.sqlite", new Map());
 * if (wrong.length) console.log(wrong.join("\n"));
 * ```
 */
export function compareWithTruth(
  db: string,
  truth: Map<string, AccountTruth>,
  limit = 5,
): string[] {
  const d = new DatabaseSync(db, { readOnly: true });
  let activity: Record<string, unknown>[], accounts: Record<string, unknown>[];
  try {
    activity = d.prepare(
      "SELECT name || '@' || host AS k, logins, failed_attempts, last_failed_ms FROM activity",
    ).all();
    accounts = d.prepare("SELECT name || '@' || host AS k, last_seen FROM Accounts").all();
  } finally {
    d.close();
  }
  const wrong: string[] = [];
  const differ = (text: string) => void (wrong.length < limit && wrong.push(text));
  let count = 0;
  for (const row of activity) {
    const key = String(row.k);
    const t = truth.get(key);
    count++;
    if (!t) {
      differ(`${key}: in the database, never written`);
      continue;
    }
    const lastFailed = t.lastFailed === undefined ? null : instantAt(t.lastFailed, "+00:00");
    const got = row.last_failed_ms === null ? null : Number(row.last_failed_ms);
    if (Number(row.logins) !== t.logins || Number(row.failed_attempts) !== t.failed) {
      differ(
        `${key}: ${row.logins} logins, ${row.failed_attempts} failed; written ${t.logins}, ${t.failed}`,
      );
    } else if (got !== lastFailed) differ(`${key}: last failed at ${got}, written ${lastFailed}`);
  }
  if (count !== truth.size) differ(`${count} accounts in activity, ${truth.size} written`);
  const seen = new Map(accounts.map((row) => [String(row.k), String(row.last_seen)]));
  seen.delete(WATERMARK);
  for (const [key, t] of truth) {
    const want = t.lastLogin === undefined ? undefined : lastSeenText(t.lastLogin);
    if (seen.get(key) !== want) differ(`${key}: last_seen ${seen.get(key)}, written ${want}`);
    seen.delete(key);
  }
  for (const key of seen.keys()) differ(`${key}: in Accounts, never written`);
  return wrong;
}

/**
 * The audit bytes the last run says it read (its `runs` row).
 *
 * @example
 * ```ts
 * lastRunBytes("/tmp/x/audit.sqlite"); // 1048576
 * ```
 */
export function lastRunBytes(db: string): number {
  const d = new DatabaseSync(db, { readOnly: true });
  try {
    const row = d.prepare("SELECT bytes_read FROM runs ORDER BY rowid DESC LIMIT 1").get();
    return Number(row?.bytes_read);
  } finally {
    d.close();
  }
}
