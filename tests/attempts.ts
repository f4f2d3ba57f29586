/**
 * The oracle of the end-to-end tests and of the captured fixture: what a list
 * of login attempts (made by the test itself, each within a known wall-clock
 * window) means per logged `user@host`, and its comparison with the database.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { activity, FIXTURES, runCli } from "./helpers.ts";
import type { Attempt } from "./mariadb.ts";

/** What `deno task capture` kept beside a capture's audit files. */
export interface Manifest {
  files_oldest_first: string[];
  /** Per file, the length in bytes of its first line. */
  first_line_bytes?: Record<string, number>;
  attempts: Attempt[];
}

/**
 * Reads a capture's `manifest.json`.
 *
 * @example
 * ```ts
 * const { attempts } = readManifest("mariadb-10.11-shapes");
 * ```
 */
export function readManifest(fixture: string): Manifest {
  return JSON.parse(Deno.readTextFileSync(join(FIXTURES, fixture, "manifest.json")));
}

/** What the attempts of one `user@host` should give: counts, and windows for the last times. */
export interface Expected {
  logins: number;
  failed: number;
  lastLogin?: [number, number];
  lastFailed?: [number, number];
}

/**
 * Per logged `user@host`: counts, and the window the last of each kind happened in.
 *
 * @example
 * ```ts
 * expectedFrom([{ user: "a", host: "localhost", ok: true, before: 1000, after: 1200 }]);
 * ```
 */
export function expectedFrom(attempts: Attempt[]): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (const a of attempts) {
    const key = `${a.user}@${a.host}`;
    const e = out.get(key) ?? { logins: 0, failed: 0 };
    // The server stamps connection lines with a coarse clock, in whole seconds.
    const window: [number, number] = [Math.floor((a.before - 50) / 1000) * 1000, a.after];
    if (a.ok) e.logins++, e.lastLogin = window;
    else e.failed++, e.lastFailed = window;
    out.set(key, e);
  }
  return out;
}

/**
 * Asserts that `at` lies in the window.
 *
 * @example
 * ```ts
 * within(1500, [1000, 2000], "x");
 * ```
 */
export function within(at: number | undefined, [from, to]: [number, number], what: string): void {
  assert(at !== undefined && at >= from && at <= to, `${what}: ${at} not in [${from}, ${to}]`);
}

/**
 * Asserts that the activity table holds exactly what the attempts did; `root@localhost`
 * (the test's own administration) is ignored.
 *
 * @example
 * ```ts
 * await compareActivity("/tmp/x/audit.sqlite", attempts);
 * ```
 */
export async function compareActivity(db: string, attempts: Attempt[]): Promise<void> {
  const got = await activity(db);
  const expected = expectedFrom(attempts);
  for (const [key, e] of expected) {
    const g = got.get(key);
    assert(g, `${key} missing`);
    assertEquals([g.logins, g.failed], [e.logins, e.failed], key);
    if (e.lastLogin) within(g.lastLogin, e.lastLogin, `${key} last login`);
    if (e.lastFailed) within(g.lastFailed, e.lastFailed, `${key} last failed`);
  }
  const extra = [...got.keys()].filter((k) => !expected.has(k) && k !== "root@localhost");
  assertEquals(extra, []);
}

/** An account of `conntracker report --format json`. */
export interface JsonRow {
  name: string;
  host: string;
  status: "used" | "unused" | "never-seen" | "unknown";
  reason: string;
  last_seen: string | null;
  logins: number;
  uncertain_logins: number;
  last_uncertain_login: string | null;
  last_failed: string | null;
  failed_attempts: number;
  client_hosts: string[];
  watched_since: string | null;
}

/** A logged `user@host` that no defined account takes, in `report --format json`. */
export interface JsonUnmatched {
  name: string;
  host: string;
  logins: number;
  last_login: string | null;
  failed_attempts: number;
  last_failed: string | null;
  reason: string;
}

/** `conntracker report --format json`. */
export interface JsonReport {
  now: string;
  period: string | null;
  period_start: string | null;
  watched_since: string | null;
  accounts_from: "server" | "file" | "log";
  connected_as: { name: string; host: string } | null;
  name_resolution: "on" | "off" | "unknown";
  accounts: JsonRow[];
  unmatched: JsonUnmatched[];
}

/**
 * Asserts that a JSON report gives every successful attempt to the account
 * the server itself chose (`CURRENT_USER()`) or leaves it uncertain: for each
 * account the server chose, its certain logins are at most the server's count
 * and its certain and uncertain logins together at least that; it is never
 * `never-seen`; when every login is certain, `last_seen` lies in the last
 * one's window. An account the server never chose has no certain login.
 * `root` (the test's own administration) is left out. Returns how many
 * accounts had every login certain. `checkHosts: false` when the attempts'
 * hosts are not the logged ones (a live server resolving names).
 *
 * @example
 * ```ts
 * assertAttribution(JSON.parse(output).accounts, attempts);
 * ```
 */
export function assertAttribution(
  rows: JsonRow[],
  attempts: Attempt[],
  checkHosts = true,
): number {
  const chosen = new Map<
    string,
    { logins: number; window: [number, number]; hosts: Set<string> }
  >();
  for (const a of attempts) {
    if (!a.ok || a.currentUser === undefined) continue;
    const at = a.currentUser.lastIndexOf("@");
    const key = `${a.currentUser.slice(0, at)}\0${a.currentUser.slice(at + 1)}`;
    const e = chosen.get(key) ?? { logins: 0, window: [0, 0], hosts: new Set() };
    e.logins++;
    e.window = [Math.floor((a.before - 50) / 1000) * 1000, a.after];
    e.hosts.add(a.host);
    chosen.set(key, e);
  }
  const reported = new Set<string>();
  let exact = 0;
  for (const row of rows) {
    if (row.name === "root") continue;
    const key = `${row.name}\0${row.host}`;
    reported.add(key);
    const e = chosen.get(key);
    const what = `'${row.name}'@'${row.host}'`;
    if (!e) {
      assertEquals([row.logins, row.last_seen], [0, null], `${what} was never chosen`);
      continue;
    }
    assert(row.status !== "never-seen", `${what} is never-seen: ${row.reason}`);
    assert(
      row.logins <= e.logins,
      `${what}: ${row.logins} logins, the server chose it ${e.logins}`,
    );
    assert(
      row.logins + row.uncertain_logins >= e.logins,
      `${what}: ${row.logins}+${row.uncertain_logins}? logins, the server chose it ${e.logins}`,
    );
    if (row.logins < e.logins) {
      assert(row.status !== "unused", `${what} is unused: ${row.reason}`);
      continue;
    }
    exact++;
    assert(row.last_seen !== null && /[+-]\d\d:\d\d$/.test(row.last_seen), `${what} last_seen`);
    within(Date.parse(row.last_seen), e.window, `${what} last_seen ${row.last_seen}`);
    if (!checkHosts) continue;
    for (const host of e.hosts) assert(row.client_hosts.includes(host), `${what} from ${host}`);
  }
  const missing = [...chosen.keys()].filter((k) => !reported.has(k));
  assertEquals(missing, [], "accounts the server chose but the report does not list");
  return exact;
}

/**
 * Runs `report --format json --accounts USERS` and returns it; asserts exit 0, no stderr.
 *
 * @example
 * ```ts
 * const { accounts } = await reportAccounts("/tmp/x/conntracker.ini", "/tmp/x/mysql_user.tsv");
 * ```
 */
export async function reportAccounts(config: string, users: string): Promise<JsonReport> {
  const args = ["--config", config, "report", "--format", "json", "--accounts", users];
  const report = await runCli(args);
  assertEquals([report.code, report.stderr], [0, ""]);
  return JSON.parse(report.stdout);
}
