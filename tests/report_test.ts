import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { buildReport, filterRows, type ReportRow, sortRows } from "../lib/report/build.ts";
import { DurationError, parseDuration } from "../lib/report/duration.ts";
import { FIELDS, formatReport } from "../lib/report/format.ts";
import { openStore } from "../lib/store/database.ts";
import { beginRun, rollbackRun } from "../lib/store/schema.ts";
import { compileLayout } from "../lib/time/layout.ts";
import { loadZone } from "../lib/time/zone.ts";
import { runCli, withTempDir, writeConfig } from "./helpers.ts";
import { whileRunStopped, writeBigLog } from "./stopped_run.ts";

const DAY = 86_400_000;

function row(name: string, extra: Partial<ReportRow> = {}): ReportRow {
  return { name, host: "%", logins: 0, failedAttempts: 0, clientHosts: [], ...extra };
}

Deno.test("parseDuration() reads days, weeks, months of 30 days and years of 365", () => {
  assertEquals(parseDuration("90d"), 90 * DAY);
  assertEquals(parseDuration("12w"), 84 * DAY);
  assertEquals(parseDuration("6m"), 180 * DAY);
  assertEquals(parseDuration("1Y"), 365 * DAY);
  for (const bad of ["", "90", "d", "1.5d", "-3d", "3h"]) {
    assertThrows(() => parseDuration(bad), DurationError, bad);
  }
});

Deno.test("filterRows() --unused-for keeps the never-seen and the long unused; --failed the dormant under attack", () => {
  const now = Date.UTC(2026, 10, 25);
  const rows = [
    row("never"),
    row("old", { lastSeen: now - 100 * DAY, logins: 3 }),
    row("recent", { lastSeen: now - 10 * DAY, logins: 9 }),
    row("tried", { lastSeen: now - 100 * DAY, failedAttempts: 2, lastFailed: now - DAY }),
    row("tried-long-ago", { failedAttempts: 1, lastFailed: now - 200 * DAY }),
    row("used-and-tried", { lastSeen: now - DAY, failedAttempts: 5, lastFailed: now - DAY }),
  ];
  const names = (f: Parameters<typeof filterRows>[1]) => filterRows(rows, f).map((r) => r.name);
  assertEquals(names({ now, unusedForMs: 90 * DAY }), ["never", "old", "tried", "tried-long-ago"]);
  assertEquals(names({ now, unusedForMs: 90 * DAY, failed: true }), ["tried"]);
  assertEquals(names({ now, failed: true }), ["tried-long-ago"]);
  assertEquals(names({ now }), rows.map((r) => r.name));
});

Deno.test("sortRows() by last_seen (never first), name, logins", () => {
  const rows = [
    row("b", { lastSeen: 5, logins: 1 }),
    row("c"),
    row("a", { lastSeen: 9, logins: 0 }),
  ];
  assertEquals(sortRows(rows, "last_seen").map((r) => r.name), ["c", "b", "a"]);
  assertEquals(sortRows(rows, "name").map((r) => r.name), ["a", "b", "c"]);
  assertEquals(sortRows(rows, "logins").map((r) => r.name), ["a", "c", "b"]);
});

Deno.test("buildReport() attributes logins, failures and proxy logins to defined accounts", () => {
  const report = buildReport(
    [
      { user: "app", host: "10.1.2.3", logins: 2, lastLogin: 100, failed: 1, lastFailed: 50 },
      { user: "app", host: "10.9.9.9", logins: 1, lastLogin: 300, failed: 0 },
      { user: "app", host: "192.168.0.1", logins: 4, lastLogin: 200, failed: 0 },
      { user: "mallory", host: "10.1.2.3", logins: 0, failed: 7, lastFailed: 400 },
      { user: "plug", host: "localhost", logins: 1, lastLogin: 500, failed: 0 },
    ],
    [{
      user: "plug",
      host: "localhost",
      proxiedUser: "plug_dest",
      proxiedHost: "%",
      logins: 1,
      lastLogin: 500,
    }],
    [
      { user: "app", host: "10.%" },
      { user: "app", host: "%" },
      { user: "plug", host: "%" },
      { user: "plug_dest", host: "%" },
      { user: "idle", host: "localhost" },
    ],
  );
  const by = new Map(report.rows.map((r) => [`${r.name}@${r.host}`, r]));
  assertEquals(by.get("app@10.%"), {
    name: "app",
    host: "10.%",
    logins: 3,
    lastSeen: 300,
    failedAttempts: 1,
    lastFailed: 50,
    clientHosts: ["10.1.2.3", "10.9.9.9"],
  });
  assertEquals([by.get("app@%")?.logins, by.get("app@%")?.lastSeen], [4, 200]);
  assertEquals([by.get("plug@%")?.logins, by.get("plug_dest@%")?.logins], [1, 1]);
  assertEquals(by.get("idle@localhost"), row("idle", { host: "localhost" }));
  assertEquals(report.unmatched.map((o) => o.user), ["mallory"]);
});

Deno.test("formatReport() json and csv carry the documented fields; csv quotes", () => {
  const rows = [
    row('a,"b"', { host: "10.%", lastSeen: 0, logins: 2, clientHosts: ["10.0.0.1", "10.0.0.2"] }),
    row("zoë"),
  ];
  const time = (ms: number) => new Date(ms).toISOString();
  const json = JSON.parse(formatReport(rows, "json", time));
  assertEquals(Object.keys(json[0]), [...FIELDS]);
  assertEquals(json[1].last_seen, null);
  assertEquals(json[0].client_hosts, ["10.0.0.1", "10.0.0.2"]);
  assertEquals(
    formatReport(rows, "csv", time),
    `${
      FIELDS.join(",")
    }\n"a,""b""",10.%,1970-01-01T00:00:00.000Z,2,,0,10.0.0.1 10.0.0.2\nzoë,%,,0,,0,\n`,
  );
  const table = formatReport(rows, "table", time).split("\n");
  assertEquals(table[0].indexOf("LAST SEEN"), table[2].indexOf("never"));
});

/** A database as the old tool and a few runs of ours leave it. */
function seed(db: string): void {
  const d = new DatabaseSync(db);
  d.exec(`CREATE TABLE Accounts (name TEXT, host TEXT, last_seen TEXT, PRIMARY KEY (name, host));
    INSERT INTO Accounts VALUES ('mysql', 'localhost', '2026-11-25 12:00:00+01:00'),
      ('legacy', '10.0.0.5', '2025-01-02 03:04:05+01:00');`);
  d.close();
}

Deno.test("report: reads only, hides the watermark row, keeps the old tool's last_seen", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    const db = join(dir, "audit.sqlite");
    seed(db);
    await Deno.writeTextFile(
      join(logs, "server_audit.log"),
      "20261125 10:00:00,vm,mysql,localhost,3,0,CONNECT,,,0\n" +
        "20261125 10:00:01,vm,legacy,10.0.0.5,4,0,FAILED_CONNECT,,,1045\n",
    );
    const at = new Date(Date.now() - 60_000);
    await Deno.utime(join(logs, "server_audit.log"), at, at);
    const config = await writeConfig(dir, { AuditLogPath: logs });
    assertEquals((await runCli(["--config", config])).code, 0);
    const before = await Deno.readFile(db);
    const r = await runCli(["--config", config, "report", "--format", "json", "--sort", "name"]);
    assertEquals([r.code, r.stderr], [0, ""]);
    assertEquals(JSON.parse(r.stdout), [
      {
        name: "legacy",
        host: "10.0.0.5",
        last_seen: "2025-01-02T03:04:05+01:00",
        logins: 0,
        last_failed: "2026-11-25T10:00:01+01:00",
        failed_attempts: 1,
        client_hosts: ["10.0.0.5"],
      },
      {
        name: "mysql",
        host: "localhost",
        last_seen: "2026-11-25T10:00:00+01:00",
        logins: 1,
        last_failed: null,
        failed_attempts: 0,
        client_hosts: ["localhost"],
      },
    ]);
    assertEquals(await Deno.readFile(db), before);
  });
});

Deno.test("report: mistakes are one line with exit 2; before any run exit 6", async () => {
  await withTempDir(async (dir) => {
    const config = await writeConfig(dir, { AuditLogPath: dir });
    const cases: [string[], number, RegExp][] = [
      [["--format", "xml"], 2, /Invalid --format \\"xml\\"/],
      [["--sort", "age"], 2, /Invalid --sort \\"age\\"/],
      [["--unused-for", "90"], 2, /Invalid duration \\"90\\"/],
      [["--now", "yesterday"], 2, /Invalid --now \\"yesterday\\"/],
      [["--accounts", "x", "--accounts-from-server"], 2, /not both/],
      [["--accounts", join(dir, "nope.tsv")], 2, /Account list cannot be read.*file=\S+nope\.tsv/],
      [[], 6, /No run has completed yet: the database does not exist.*file=\S+audit\.sqlite/],
    ];
    for (const [args, code, pattern] of cases) {
      const r = await runCli(["--config", config, "report", ...args]);
      assertEquals(r.code, code, `${args}: ${r.stderr}`);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert(pattern.test(r.stderr), `${args}: ${r.stderr}`);
    }
  });
});

/** Runs the report as JSON and checks it is one stderr line saying no run has completed. */
async function assertNoRunYet(config: string, why: RegExp): Promise<void> {
  const r = await runCli(["--config", config, "report", "--format", "json"]);
  assertEquals([r.code, r.stdout], [6, ""], r.stderr);
  const lines = r.stderr.trim().split("\n");
  assertEquals(lines.length, 1, r.stderr);
  assert(/level=ERROR msg="No run has completed yet: /.test(lines[0]), r.stderr);
  assert(why.test(lines[0]) && /file=\S+audit\.sqlite$/.test(lines[0]), r.stderr);
}

Deno.test("report: an empty database file (a run initialises it) is no run yet, exit 6", async () => {
  await withTempDir(async (dir) => {
    const config = await writeConfig(dir, { AuditLogPath: dir });
    await Deno.writeFile(join(dir, "audit.sqlite"), new Uint8Array(0));
    await assertNoRunYet(config, /has no tables/);
  });
});

Deno.test("report: a database directory that does not exist is named, exit 1", async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, "nope");
    const config = await writeConfig(dir, {
      AuditLogPath: dir,
      SqlitePath: join(missing, "audit.sqlite"),
    });
    const r = await runCli(["--config", config, "report"]);
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert(r.stderr.includes(`Database directory \\"${missing}\\" does not exist`), r.stderr);
  });
});

Deno.test("report: while a first run holds its transaction (as a run begins it), exit 6", async () => {
  await withTempDir(async (dir) => {
    const config = await writeConfig(dir, { AuditLogPath: dir });
    const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
    const store = openStore(join(dir, "audit.sqlite"), { lockTimeoutMs: 0, times });
    try {
      beginRun(store);
      await assertNoRunYet(config, /has no tables/);
    } finally {
      rollbackRun(store);
      store.db.close();
    }
  });
});

Deno.test("report: during a real first run, stopped inside its transaction, exit 6; after it, the report", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    await writeBigLog(join(logs, "server_audit.log"));
    const config = await writeConfig(dir, { AuditLogPath: logs });
    const db = join(dir, "audit.sqlite");
    const run = await whileRunStopped({ config, db }, async () => {
      await assertNoRunYet(config, /has no tables \(a first run may be under way\)/);
    });
    assertEquals([run.code, run.stderr], [0, ""]);
    const r = await runCli(["--config", config, "report", "--format", "json"]);
    assertEquals([r.code, r.stderr], [0, ""]);
    // The ledger: writeBigLog() writes one login, app from 10.0.0.1 at 10:00:00 Zurich time.
    assertEquals(JSON.parse(r.stdout), [{
      name: "app",
      host: "10.0.0.1",
      last_seen: "2026-11-25T10:00:00+01:00",
      logins: 1,
      last_failed: null,
      failed_attempts: 0,
      client_hosts: ["10.0.0.1"],
    }]);
  });
});
