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

Deno.test("runs record the earliest event read per server host; schema 1 is backfilled from activity", async () => {
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
    // A database of schema 1 (no watch table) gets one from its activity.
    const d = new DatabaseSync(db);
    d.exec("DROP TABLE watch; PRAGMA user_version = 1");
    d.close();
    assertEquals((await runCli(["--config", config])).code, 0);
    assertEquals(watch(), expected);
  });
});
