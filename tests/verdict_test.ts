import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { readHistory } from "../lib/store/read_history.ts";
import { STALE_MS, verdict, type VerdictContext } from "../lib/report/verdict.ts";
import type { RunRecord } from "../lib/store/report_reads.ts";
import { runCli, withTempDir, writeConfig } from "./helpers.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 1);
const time = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Watched for 120 days, asked about 90, last run a minute ago. */
const CTX: VerdictContext = {
  now: NOW,
  periodMs: 90 * DAY,
  watchedSince: NOW - 120 * DAY,
  reads: { lastRead: NOW - 60_000, notRead: [], unattributed: [] },
  losses: [],
  time,
};

Deno.test("verdict(): used, unused and never-seen when the evidence decides", () => {
  assertEquals(verdict({ lastSeen: NOW - DAY, doubts: [] }, CTX), {
    status: "used",
    reason: "last login 2026-11-30",
  });
  assertEquals(verdict({ lastSeen: NOW - 100 * DAY, doubts: [] }, CTX), {
    status: "unused",
    reason: "last login 2026-08-23, before 2026-09-02",
  });
  assertEquals(verdict({ doubts: [] }, CTX), {
    status: "never-seen",
    reason: "no login since 2026-08-03",
  });
  // Without a period, used means a login was ever recorded.
  const ever = { ...CTX, periodMs: undefined };
  assertEquals(verdict({ lastSeen: NOW - 300 * DAY, doubts: [] }, ever).status, "used");
  assertEquals(verdict({ doubts: [] }, ever).status, "never-seen");
});

Deno.test("verdict(): watched for less than the period is unknown, also with an older login", () => {
  const short = { ...CTX, watchedSince: NOW - 30 * DAY };
  for (const lastSeen of [undefined, NOW - 400 * DAY]) {
    const v = verdict({ lastSeen, doubts: [] }, short);
    assertEquals(v.status, "unknown");
    assert(/watched only since 2026-11-01, after the period began \(2026-09-02\)/.test(v.reason));
  }
  assertEquals(verdict({ doubts: [] }, { ...CTX, watchedSince: undefined }).status, "unknown");
  // A login in the period is used, however short the watch.
  assertEquals(verdict({ lastSeen: NOW - DAY, doubts: [] }, short).status, "used");
});

Deno.test("verdict(): a loss in the period leaves accounts without a login in it unknown", () => {
  const losses = [{
    path: "/var/lib/mysql/server_audit.log.9",
    unreadBytes: 512,
    from: NOW - 20 * DAY,
    to: NOW - 19 * DAY,
  }];
  const v = verdict({ doubts: [] }, { ...CTX, losses });
  assertEquals(v.status, "unknown");
  assertEquals(
    v.reason,
    "audit data lost from 2026-11-11 to 2026-11-12 (/var/lib/mysql/server_audit.log.9 was " +
      "removed before it was read to the end, at least 512 bytes unread)",
  );
  // Nothing known unread when it was last seen (it grew afterwards): only the range is said.
  const grown = [{ ...losses[0], unreadBytes: 0 }];
  assertEquals(
    verdict({ doubts: [] }, { ...CTX, losses: grown }).reason,
    "audit data lost from 2026-11-11 to 2026-11-12 (/var/lib/mysql/server_audit.log.9 was " +
      "removed before it was read to the end)",
  );
  assertEquals(
    verdict({ lastSeen: NOW - 100 * DAY, doubts: [] }, { ...CTX, losses }).status,
    "unknown",
  );
  assertEquals(verdict({ lastSeen: NOW - DAY, doubts: [] }, { ...CTX, losses }).status, "used");
  // A loss before the period does not matter; one of unknown start before its end does.
  const old = [{ ...losses[0], from: NOW - 100 * DAY, to: NOW - 95 * DAY }];
  assertEquals(verdict({ doubts: [] }, { ...CTX, losses: old }).status, "never-seen");
  const open = [{ path: "x", unreadBytes: 1, to: NOW - DAY }];
  assert(
    /lost before to 2026-11-30/.test(verdict({ doubts: [] }, { ...CTX, losses: open }).reason),
  );
});

Deno.test("verdict(): doubtful logins in the period are unknown, older ones do not count", () => {
  const doubt = {
    logins: 3,
    lastLogin: NOW - 2 * DAY,
    why: "from svc@localhost may be this account or ''@'localhost'",
  };
  const v = verdict({ doubts: [doubt] }, CTX);
  assertEquals(v, {
    status: "unknown",
    reason:
      "3 logins, the last 2026-11-29, from svc@localhost may be this account or ''@'localhost'",
  });
  assertEquals(
    verdict({ doubts: [{ ...doubt, lastLogin: NOW - 100 * DAY }] }, CTX).status,
    "never-seen",
  );
});

Deno.test("verdict(): a doubt with no time lies in any period", () => {
  const undated = { logins: 2, why: "from app@db1 (an unreadable timestamp)" };
  for (const ctx of [CTX, { ...CTX, periodMs: undefined }, { ...CTX, periodMs: DAY }]) {
    assertEquals(verdict({ doubts: [undated] }, ctx), {
      status: "unknown",
      reason: "2 logins at an unknown time, from app@db1 (an unreadable timestamp)",
    });
    // An older certain login does not outweigh it.
    const older = verdict({ lastSeen: NOW - 200 * DAY, doubts: [undated] }, ctx);
    assertEquals(older.status, ctx.periodMs === undefined ? "used" : "unknown");
  }
  const uncounted = { logins: 0, why: "the old tool saw it" };
  assertEquals(verdict({ doubts: [uncounted] }, CTX), {
    status: "unknown",
    reason: "the old tool saw it",
  });
});

/** The context with these runs' reading. */
function withRuns(runs: RunRecord[]): VerdictContext {
  return { ...CTX, reads: readHistory(runs) };
}

const READ = { auditFiles: 2, errors: 0 };
const NO_FILE = { auditFiles: 0, errors: 0 };
const FAILED = { auditFiles: 2, errors: 1 };

Deno.test("verdict(): a last successful read over an hour before the report's time is unknown", () => {
  const stale = withRuns([{ startedMs: NOW - STALE_MS - 1, ...READ }]);
  const v = verdict({ lastSeen: NOW - 100 * DAY, doubts: [] }, stale);
  assertEquals(v, {
    status: "unknown",
    reason: "the audit log was last read successfully at 2026-11-30, over an hour before " +
      "2026-12-01: later logins are not read yet",
  });
  const fresh = withRuns([{ startedMs: NOW - STALE_MS, ...READ }]);
  assertEquals(verdict({ doubts: [] }, fresh).status, "never-seen");
});

Deno.test("verdict(): runs that found no audit file or could not read one do not count as reads", () => {
  // The ledger: a good read 2 hours ago, then a run every 5 minutes that found nothing (an
  // AuditLogFile typo), or could not read a file (a corrupt gzip).
  const later = (n: number, run: typeof READ) =>
    Array.from(
      { length: n },
      (_, i) => ({ startedMs: NOW - 7_200_000 + (i + 1) * 300_000, ...run }),
    );
  const good = { startedMs: NOW - 7_200_000, ...READ };
  const typo = verdict({ doubts: [] }, withRuns([good, ...later(23, NO_FILE)]));
  assertEquals(typo, {
    status: "unknown",
    reason: "the audit log was last read successfully at 2026-11-30, over an hour before " +
      "2026-12-01; since then 23 runs found no audit file: later logins are not read yet",
  });
  const corrupt = verdict({ doubts: [] }, withRuns([good, ...later(23, FAILED)]));
  assert(
    /; since then 23 runs could not read 23 files: later/.test(corrupt.reason),
    corrupt.reason,
  );
  // Never read: every run failed.
  const never = verdict({ doubts: [] }, withRuns(later(2, FAILED)));
  assertEquals(never, {
    status: "unknown",
    reason: "no run has read the audit log successfully yet (2 runs could not read 2 files)",
  });
  // A login in the period still makes it used.
  const used = verdict({ lastSeen: NOW - DAY, doubts: [] }, withRuns(later(2, FAILED)));
  assertEquals(used.status, "used");
});

Deno.test("verdict(): runs that did not read, then one that did, leave the time between unknown", () => {
  const runs = [
    { startedMs: NOW - 30 * DAY, ...READ },
    { startedMs: NOW - 29 * DAY, ...NO_FILE },
    { startedMs: NOW - 28 * DAY, ...FAILED },
    { startedMs: NOW - 27 * DAY, ...READ },
    { startedMs: NOW - 60_000, ...READ },
  ];
  assertEquals(verdict({ doubts: [] }, withRuns(runs)), {
    status: "unknown",
    reason: "the audit log was not read successfully between 2026-11-01 and 2026-11-04 " +
      "(1 run found no audit file, 1 run could not read 1 file): logins of that time may have " +
      "been rotated away unread",
  });
  // Before the period, it does not matter.
  assertEquals(
    verdict({ doubts: [] }, { ...withRuns(runs), periodMs: 20 * DAY }).status,
    "never-seen",
  );
  // Runs before schema 4 did not record the audit files found: taken as found.
  const old = [{ startedMs: NOW - 60_000, errors: 0 }];
  assertEquals(verdict({ doubts: [] }, withRuns(old)).status, "never-seen");
});

Deno.test("verdict(): sign-ins no account could be given leave every account without a login unknown", () => {
  const runs = [
    { startedMs: NOW - 40 * DAY, ...READ, changeUsersDropped: 1, badTimestamps: 0 },
    { startedMs: NOW - 10 * DAY, ...READ, changeUsersDropped: 0, badTimestamps: 2 },
    { startedMs: NOW - 60_000, ...READ, changeUsersDropped: 0, badTimestamps: 0 },
  ];
  assertEquals(verdict({ doubts: [] }, withRuns(runs)), {
    status: "unknown",
    reason: "3 sign-ins no account could be given (1 change-user whose account no line named, " +
      "2 with a timestamp that cannot be read), read by the runs from 2026-10-22 to 2026-11-21: " +
      "any account may have logged in",
  });
  const recent = { ...withRuns(runs), periodMs: 20 * DAY };
  assert(
    /^2 sign-ins .*read by the run of 2026-11-21/.test(verdict({ doubts: [] }, recent).reason),
  );
  // Read by a run before the period began, they were written before it.
  assertEquals(verdict({ doubts: [] }, { ...recent, periodMs: 5 * DAY }).status, "never-seen");
  assertEquals(verdict({ lastSeen: NOW - DAY, doubts: [] }, recent).status, "used");
});

Deno.test("runs record the earliest event read per server host", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    const log = join(logs, "server_audit.log");
    // The ledger: what this test wrote, in the server's zone (the config's TimeLocation).
    await Deno.writeTextFile(
      log,
      "20261125 09:59:59,db1,root,localhost,2,0,DISCONNECT,,,0\n" +
        "20261125 10:00:00,db1,app,10.0.0.1,3,0,FAILED_CONNECT,,,1045\n" +
        "20261125 10:00:05,db1,app,10.0.0.1,4,0,CONNECT,,,0\n" +
        "20261125 11:00:00,db2,app,10.0.0.2,5,0,CONNECT,,,0\n",
    );
    const config = await writeConfig(dir, { AuditLogPath: logs, TimeLocation: "UTC" });
    assertEquals((await runCli(["--config", config])).code, 0);
    const db = join(dir, "audit.sqlite");
    const watch = () => {
      const d = new DatabaseSync(db);
      const rows = d.prepare("SELECT server_host, first_event_ms FROM watch ORDER BY 1").all();
      d.close();
      return rows.map((r) => [r.server_host, new Date(Number(r.first_event_ms)).toISOString()]);
    };
    const expected = [["db1", "2026-11-25T10:00:00.000Z"], ["db2", "2026-11-25T11:00:00.000Z"]];
    assertEquals(watch(), expected);
    // A later run with later events keeps the start.
    await Deno.writeTextFile(log, "20261125 12:00:00,db1,app,10.0.0.1,6,0,CONNECT,,,0\n", {
      append: true,
    });
    assertEquals((await runCli(["--config", config])).code, 0);
    assertEquals(watch(), expected);
  });
});

Deno.test("an older audit file read later counts as logins but does not move the watch start", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    // The ledger: a live file of 2026-12-01, then a rotation of 2025-01-01 dropped in (an archive
    // copied back): nothing between the two was ever read.
    const live = join(logs, "server_audit.log");
    await Deno.writeTextFile(live, "20261201 10:00:00,db1,app,10.0.0.1,6,0,CONNECT,,,0\n");
    await Deno.utime(live, new Date("2026-12-01T10:00:01Z"), new Date("2026-12-01T10:00:01Z"));
    const config = await writeConfig(dir, { AuditLogPath: logs, TimeLocation: "UTC" });
    assertEquals((await runCli(["--config", config])).code, 0);
    const old = join(logs, "server_audit.log.7");
    await Deno.writeTextFile(old, "20250101 10:00:00,db1,old,10.0.0.1,6,0,CONNECT,,,0\n");
    await Deno.utime(old, new Date("2025-01-01T10:00:01Z"), new Date("2025-01-01T10:00:01Z"));
    assertEquals((await runCli(["--config", config])).code, 0);
    const d = new DatabaseSync(join(dir, "audit.sqlite"));
    const rows = d.prepare("SELECT server_host, first_event_ms FROM watch").all();
    const oldLogins = d.prepare("SELECT logins FROM activity WHERE name = 'old'").get();
    d.close();
    assertEquals(rows.map((r) => [r.server_host, r.first_event_ms]), [
      ["db1", Date.parse("2026-12-01T10:00:00Z")],
    ]);
    assertEquals(oldLogins?.logins, 1);
    const accounts = join(dir, "acc.tsv");
    await Deno.writeTextFile(accounts, "app\t%\nold\t%\nquarterly\t%\n");
    const r = await runCli([
      "--config",
      config,
      "report",
      "--accounts",
      accounts,
      "--format",
      "json",
      "--now",
      "2026-12-01T10:30:00Z",
      "--unused-for",
      "90d",
    ]);
    assertEquals(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assertEquals(doc.watched_since, "2026-12-01T10:00:00+00:00");
    const status = Object.fromEntries(
      doc.accounts.map((a: { name: string; status: string }) => [a.name, a.status]),
    );
    // 30 minutes watched: nothing can be unused or never-seen for 90 days.
    assertEquals(status, { old: "unknown", quarterly: "unknown" });
  });
});

/** A database as schema 1 (before the watch table) left it: the tables of migration 1. */
const SCHEMA_1 = `
  CREATE TABLE Accounts (name TEXT, host TEXT, last_seen TIMESTAMP, PRIMARY KEY (name, host));
  CREATE TABLE activity (
    name TEXT NOT NULL, host TEXT NOT NULL, server_host TEXT,
    logins INTEGER NOT NULL DEFAULT 0, first_login_ms INTEGER, last_login_ms INTEGER,
    failed_attempts INTEGER NOT NULL DEFAULT 0, last_failed_ms INTEGER,
    PRIMARY KEY (name, host)) WITHOUT ROWID;
  CREATE TABLE proxy_logins (
    name TEXT NOT NULL, host TEXT NOT NULL, proxied_user TEXT NOT NULL,
    proxied_host TEXT NOT NULL, logins INTEGER NOT NULL, last_login_ms INTEGER NOT NULL,
    PRIMARY KEY (name, host, proxied_user, proxied_host)) WITHOUT ROWID;
  CREATE TABLE checkpoints (
    fingerprint TEXT PRIMARY KEY, path TEXT NOT NULL, dev INTEGER, ino INTEGER,
    gzip INTEGER NOT NULL, size INTEGER NOT NULL, offset INTEGER NOT NULL,
    mtime_ms INTEGER NOT NULL, last_instant_ms INTEGER, seen_ms INTEGER NOT NULL);
  CREATE TABLE pending_change_user (
    server_host TEXT NOT NULL, connection_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
    PRIMARY KEY (server_host, connection_id));
  CREATE TABLE losses (
    detected_ms INTEGER NOT NULL, path TEXT NOT NULL, fingerprint TEXT NOT NULL,
    unread_bytes INTEGER NOT NULL, from_ms INTEGER, to_ms INTEGER);
  CREATE TABLE runs (
    started_ms INTEGER NOT NULL, finished_ms INTEGER NOT NULL, files_read INTEGER NOT NULL,
    bytes_read INTEGER NOT NULL, logins INTEGER NOT NULL, failed_attempts INTEGER NOT NULL,
    malformed INTEGER NOT NULL, long_lines INTEGER NOT NULL, empty_user INTEGER NOT NULL,
    losses INTEGER NOT NULL, errors INTEGER NOT NULL);
  PRAGMA user_version = 1;`;

Deno.test("a database of schema 1 gets its watch starts from its activity", async () => {
  await withTempDir(async (dir) => {
    const db = join(dir, "audit.sqlite");
    const d = new DatabaseSync(db);
    d.exec(SCHEMA_1);
    // The ledger: a failure before the first login on db1, logins only on db2, a row without times.
    d.exec(`INSERT INTO activity VALUES
      ('app', '10.0.0.1', 'db1', 2, 2000, 3000, 1, 1000),
      ('ops', '10.0.0.2', 'db1', 1, 1500, 1500, 0, NULL),
      ('web', '10.0.0.3', 'db2', 1, 5000, 5000, 0, NULL),
      ('old', '10.0.0.4', NULL, 0, NULL, NULL, 0, NULL);
      INSERT INTO runs VALUES (500, 600, 1, 10, 4, 1, 0, 0, 0, 0, 0);`);
    d.close();
    await Deno.mkdir(join(dir, "logs"));
    const config = await writeConfig(dir, { AuditLogPath: join(dir, "logs") });
    assertEquals((await runCli(["--config", config])).code, 0);
    const after = new DatabaseSync(db);
    const rows = after.prepare("SELECT * FROM watch ORDER BY server_host").all();
    after.close();
    assertEquals(rows.map((r) => [r.server_host, r.first_event_ms, r.first_run_ms]), [
      ["db1", 1000, 500],
      ["db2", 5000, 500],
    ]);
  });
});
