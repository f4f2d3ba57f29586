import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { STALE_MS, verdict, type VerdictContext } from "../lib/report/verdict.ts";
import { runCli, withTempDir, writeConfig } from "./helpers.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 1);
const time = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Watched for 120 days, asked about 90, last run a minute ago. */
const CTX: VerdictContext = {
  now: NOW,
  periodMs: 90 * DAY,
  watchedSince: NOW - 120 * DAY,
  readUntil: NOW - 60_000,
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
  assert(
    v.reason.includes("audit data lost from 2026-11-11 to 2026-11-12 (512 bytes of"),
    v.reason,
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

Deno.test("verdict(): a last run over an hour before the report's time is unknown", () => {
  const stale = { ...CTX, readUntil: NOW - STALE_MS - 1 };
  const v = verdict({ lastSeen: NOW - 100 * DAY, doubts: [] }, stale);
  assertEquals(v.status, "unknown");
  assert(/later logins are not read yet/.test(v.reason), v.reason);
  assertEquals(verdict({ doubts: [] }, { ...CTX, readUntil: NOW - STALE_MS }).status, "never-seen");
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
