import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { buildReport, filterRows, type ReportRow, sortRows } from "../lib/report/build.ts";
import { DurationError, parseDuration } from "../lib/report/duration.ts";
import { FIELDS, formatReport } from "../lib/report/format.ts";
import { formatSql, sqlAccountName } from "../lib/report/sql.ts";
import { openStore } from "../lib/store/database.ts";
import { beginRun, rollbackRun } from "../lib/store/schema.ts";
import { compileLayout } from "../lib/time/layout.ts";
import { loadZone } from "../lib/time/zone.ts";
import { runCli, withTempDir, writeConfig } from "./helpers.ts";
import { whileRunStopped, writeBigLog } from "./stopped_run.ts";

const DAY = 86_400_000;

function row(name: string, extra: Partial<ReportRow> = {}): ReportRow {
  return {
    name,
    host: "%",
    status: "used",
    reason: "",
    logins: 0,
    uncertainLogins: 0,
    failedAttempts: 0,
    clientHosts: [],
    doubts: [],
    ...extra,
  };
}

const ISO = (ms: number) => new Date(ms).toISOString();

Deno.test("parseDuration() reads days, weeks, months of 30 days and years of 365", () => {
  assertEquals(parseDuration("90d"), 90 * DAY);
  assertEquals(parseDuration("12w"), 84 * DAY);
  assertEquals(parseDuration("6m"), 180 * DAY);
  assertEquals(parseDuration("1Y"), 365 * DAY);
  for (const bad of ["", "90", "d", "1.5d", "-3d", "3h"]) {
    assertThrows(() => parseDuration(bad), DurationError, bad);
  }
  // A zero period would call every account without a login this very millisecond unused.
  for (const zero of ["0d", "0w", "0m", "0y", "000d"]) {
    assertThrows(() => parseDuration(zero), /must be at least 1 day/, zero);
  }
  assertEquals(parseDuration("1d"), DAY);
  assertEquals(parseDuration("100y"), 36_500 * DAY);
  for (const huge of ["101y", "36501d", "99999999999y", "1e400d"]) {
    assertThrows(() => parseDuration(huge), DurationError, huge);
  }
});

Deno.test("filterRows() --unused-for keeps the rows not used; --failed those tried", () => {
  const now = Date.UTC(2026, 10, 25);
  const rows = [
    row("never", { status: "never-seen" }),
    row("old", { status: "unused", lastSeen: now - 100 * DAY, logins: 3 }),
    row("recent", { lastSeen: now - 10 * DAY, logins: 9 }),
    row("doubt", { status: "unknown" }),
    row("tried", { status: "unused", failedAttempts: 2, lastFailed: now - DAY }),
    row("tried-long-ago", { status: "never-seen", failedAttempts: 1, lastFailed: now - 200 * DAY }),
    row("used-and-tried", { lastSeen: now - DAY, failedAttempts: 5, lastFailed: now - DAY }),
  ];
  const names = (f: Parameters<typeof filterRows>[1]) => filterRows(rows, f).map((r) => r.name);
  assertEquals(names({ now, periodMs: 90 * DAY }), [
    "never",
    "old",
    "doubt",
    "tried",
    "tried-long-ago",
  ]);
  assertEquals(names({ now, periodMs: 90 * DAY, failed: true }), ["tried"]);
  assertEquals(names({ now, failed: true }), ["tried", "tried-long-ago"]);
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

const WATCHED = [{ serverHost: "vm", firstEvent: 0, firstRun: 0 }];
/** No sign-in that no account could be given. */
const NONE = { changeUsers: 0, badTimestamps: 0 };
/** A run at 0 that read the audit log. */
const READ = [{ startedMs: 0, auditFiles: 1, errors: 0 }];
const OFF = { mode: "off" as const, addresses: new Map<string, string[]>() };

Deno.test("buildReport() gives logins, failures and proxy logins to defined accounts; the rest is unmatched", () => {
  const report = buildReport({
    observed: [
      { user: "app", host: "10.1.2.3", logins: 2, lastLogin: 100, failed: 1, lastFailed: 50 },
      { user: "app", host: "10.9.9.9", logins: 1, lastLogin: 300, failed: 0 },
      { user: "app", host: "192.168.0.1", logins: 4, lastLogin: 200, failed: 0 },
      { user: "mallory", host: "10.1.2.3", logins: 0, failed: 7, lastFailed: 400 },
      { user: "plug", host: "localhost", logins: 1, lastLogin: 500, failed: 0 },
      { user: "", host: "10.1.2.3", logins: 0, failed: 3, lastFailed: 450 },
      { user: "gone", host: "10.1.2.3", logins: 5, lastLogin: 420, failed: 0 },
    ],
    proxies: [{
      user: "plug",
      host: "localhost",
      proxiedUser: "plug_dest",
      proxiedHost: "%",
      logins: 1,
      lastLogin: 500,
    }],
    defined: [
      { user: "app", host: "10.%" },
      { user: "app", host: "%" },
      { user: "plug", host: "%" },
      { user: "plug_dest", host: "%" },
      { user: "idle", host: "localhost" },
      { user: "", host: "%" },
    ].filter((a) => a.user !== ""),
    resolution: OFF,
    watched: WATCHED,
    losses: [],
    runs: READ,
    now: 1000,
    time: String,
  });
  const by = new Map(report.rows.map((r) => [`${r.name}@${r.host}`, r]));
  assertEquals(by.get("app@10.%"), {
    name: "app",
    host: "10.%",
    status: "used",
    reason: "last login 300",
    logins: 3,
    lastSeen: 300,
    uncertainLogins: 0,
    failedAttempts: 1,
    lastFailed: 50,
    clientHosts: ["10.1.2.3", "10.9.9.9"],
    doubts: [],
  });
  assertEquals([by.get("app@%")?.logins, by.get("app@%")?.lastSeen], [4, 200]);
  assertEquals([by.get("plug@%")?.logins, by.get("plug_dest@%")?.logins], [1, 1]);
  assertEquals([by.get("idle@localhost")?.status, by.get("idle@localhost")?.reason], [
    "never-seen",
    "no login since 0",
  ]);
  assertEquals(
    report.unmatched.map((u) => [u.user, u.logins, u.failed, u.why.split(":")[0]]),
    [
      ["mallory", 0, 7, "no defined account matches"],
      ["", 0, 3, "empty user"],
      ["gone", 5, 0, "no defined account matches"],
    ],
  );
});

Deno.test("buildReport(): a login from localhost that the socket's account or loopback TCP's may have taken is a doubt on both", () => {
  const input = {
    observed: [{
      user: "svc",
      host: "localhost",
      logins: 4,
      lastLogin: 900,
      failed: 1,
      lastFailed: 800,
    }],
    proxies: [],
    defined: [{ user: "svc", host: "127.0.0.1" }, { user: "svc", host: "%" }, {
      user: "",
      host: "localhost",
    }],
    resolution: { mode: "on" as const, addresses: new Map<string, string[]>() },
    watched: WATCHED,
    losses: [],
    runs: READ,
    now: 1000,
    periodMs: 500,
    time: String,
  };
  const by = new Map(buildReport(input).rows.map((r) => [`${r.name}@${r.host}`, r]));
  for (const key of ["svc@127.0.0.1", "@localhost"]) {
    const r = by.get(key)!;
    assertEquals(
      [r.status, r.logins, r.uncertainLogins, r.failedAttempts],
      ["unknown", 0, 4, 1],
      key,
    );
    assert(/may be this account or/.test(r.reason) && /socket or TCP/.test(r.reason), r.reason);
  }
  assertEquals(by.get("svc@%")?.status, "never-seen");
  // The same server with skip-name-resolve: localhost is the socket, the anonymous account's.
  const off = new Map(
    buildReport({ ...input, resolution: OFF }).rows.map((r) => [`${r.name}@${r.host}`, r]),
  );
  assertEquals([off.get("@localhost")?.status, off.get("@localhost")?.logins], ["used", 4]);
  assertEquals(off.get("svc@127.0.0.1")?.status, "never-seen");
});

Deno.test("buildReport(): a logged name's address today is no proof of its address at login time", () => {
  // The ledger: app.example.com was 10.0.0.5 when it logged in, and resolves to 10.9.9.9 now.
  const report = buildReport({
    observed: [{ user: "app", host: "app.example.com", logins: 4, lastLogin: 900, failed: 0 }],
    proxies: [],
    defined: [{ user: "app", host: "10.0.0.%" }, { user: "app", host: "%" }],
    resolution: { mode: "on", addresses: new Map([["app.example.com", ["10.9.9.9"]]]) },
    watched: WATCHED,
    losses: [],
    runs: READ,
    now: 1000,
    periodMs: 500,
    time: String,
  });
  // The account the server chose ('app'@'10.0.0.%') must not come out never-seen.
  assertEquals(report.rows.map((r) => [r.host, r.status, r.logins, r.uncertainLogins]), [
    ["10.0.0.%", "unknown", 0, 4],
    ["%", "unknown", 0, 4],
  ]);
});

Deno.test("buildReport(): the report's own login is a doubt, never the evidence of use", () => {
  const base = {
    proxies: [],
    defined: [{ user: "root", host: "localhost" }, { user: "ops", host: "%" }],
    resolution: OFF,
    watched: WATCHED,
    losses: [],
    runs: READ,
    now: 1000,
    periodMs: 500,
    time: String,
    self: {
      account: { user: "root", host: "localhost" },
      client: { user: "root", host: "localhost" },
    },
  };
  // Only the report's own user@host logged in: unknown, not used; nor never-seen.
  let root = buildReport({
    ...base,
    observed: [{ user: "root", host: "localhost", logins: 9, lastLogin: 990, failed: 0 }],
  }).rows[0];
  assertEquals([root.status, root.logins, root.uncertainLogins], ["unknown", 0, 9]);
  assert(/report itself/.test(root.reason), root.reason);
  // One story: the 9 logins read, the last at 990, in the counts and in the reason alike (the
  // report's own login now is not one of the logins read).
  assertEquals(root.lastUncertain, 990);
  assert(root.reason.startsWith("9 logins, the last 990, from root@localhost"), root.reason);
  root = buildReport({ ...base, observed: [] }).rows[0];
  assertEquals([root.status, root.uncertainLogins, root.lastUncertain], ["unknown", 0, undefined]);
  // A login of root@localhost from elsewhere is evidence.
  root = buildReport({
    ...base,
    self: { ...base.self, client: { user: "root", host: "127.0.0.1" } },
    observed: [{ user: "root", host: "localhost", logins: 1, lastLogin: 990, failed: 0 }],
  }).rows[0];
  assertEquals(root.status, "used");
  // The report's user@host may also be another account: a doubt on both, as any other.
  const both = buildReport({
    ...base,
    defined: [{ user: "svc", host: "127.0.0.1" }, { user: "", host: "localhost" }],
    self: {
      account: { user: "svc", host: "127.0.0.1" },
      client: { user: "svc", host: "localhost" },
    },
    resolution: { mode: "on", addresses: new Map() },
    observed: [{ user: "svc", host: "localhost", logins: 2, lastLogin: 990, failed: 0 }],
  });
  assertEquals(both.rows.map((r) => [r.name, r.status, r.uncertainLogins]), [
    ["svc", "unknown", 2],
    ["", "unknown", 2],
  ]);
});

Deno.test("formatReport() json is an object with metadata, accounts and unmatched; csv quotes", () => {
  const report = {
    rows: [
      row('a,"b"', { host: "10.%", lastSeen: 0, logins: 2, clientHosts: ["10.0.0.1", "10.0.0.2"] }),
      row("zoë", { status: "never-seen", reason: "no login since 1970-01-01T00:00:00.000Z" }),
    ],
    unmatched: [{
      user: "",
      host: "10.0.0.9",
      logins: 0,
      failed: 3,
      lastFailed: 5,
      why: "empty user",
    }],
    watchedSince: 0,
    readUntil: 60_000,
    unattributed: { changeUsers: 2, badTimestamps: 1, first: 60_000, last: 60_000 },
  };
  const meta = {
    now: 86_400_000,
    period: { text: "1d", ms: 86_400_000 },
    accountsFrom: "server" as const,
    connectedAs: { user: "root", host: "localhost" },
    nameResolution: "on" as const,
  };
  const json = JSON.parse(formatReport(report, meta, "json", ISO));
  assertEquals(Object.keys(json), [
    "now",
    "period",
    "period_start",
    "watched_since",
    "read_until",
    "unattributed_sign_ins",
    "accounts_from",
    "connected_as",
    "name_resolution",
    "accounts",
    "unmatched",
  ]);
  assertEquals([json.period, json.period_start, json.connected_as], [
    "1d",
    "1970-01-01T00:00:00.000Z",
    { name: "root", host: "localhost" },
  ]);
  assertEquals([json.read_until, json.unattributed_sign_ins], [
    "1970-01-01T00:01:00.000Z",
    { change_users: 2, bad_timestamps: 1 },
  ]);
  assertEquals(Object.keys(json.accounts[0]), [...FIELDS]);
  assertEquals([json.accounts[1].last_seen, json.accounts[1].status], [null, "never-seen"]);
  assertEquals(json.unmatched[0].failed_attempts, 3);
  const csv = formatReport(report, meta, "csv", ISO).split("\n");
  assertEquals(csv[0], FIELDS.join(","));
  assertEquals(
    csv[1],
    `"a,""b""",10.%,used,,1970-01-01T00:00:00.000Z,2,0,,,0,10.0.0.1 10.0.0.2,1970-01-01T00:00:00.000Z`,
  );
  assertEquals(csv[3].split(",").slice(0, 3), ["", "10.0.0.9", "unmatched"]);
  const table = formatReport(report, meta, "table", ISO).split("\n");
  assert(table[0].includes("connected as 'root'@'localhost'"), table[0]);
  assert(table[0].includes("audit log read up to 1970-01-01T00:01:00.000Z"), table[0]);
  assert(
    table[0].includes(
      "3 sign-ins no account could be given (2 change-users whose account no line named, " +
        "1 with a timestamp that cannot be read) in the period",
    ),
    table[0],
  );
  const column = table[2].indexOf("LAST SEEN");
  assertEquals(table[4].indexOf("never ", column), column);
  assert(table.some((l) => l.startsWith("Logged user@host that no defined account takes")));
});

Deno.test("formatSql() locks unused and never-seen rows only, never mariadb.sys nor the report's own account", () => {
  const rows = [
    row("idle", { status: "never-seen", reason: "no login" }),
    row("old", { status: "unused", reason: "last login long ago" }),
    row("app", { status: "used" }),
    row("doubt", { status: "unknown" }),
    row("mariadb.sys", { host: "localhost", status: "never-seen" }),
    row("root", { host: "localhost", status: "never-seen" }),
    row("q`x", { host: "h'\\%", status: "never-seen", reason: "line\nbreak" }),
    row("", { host: "localhost", status: "never-seen" }),
    row("named", { host: "db1.example.com", status: "never-seen" }),
  ];
  const meta = (nameResolution: "on" | "off") => ({
    now: 0,
    accountsFrom: "server" as const,
    connectedAs: { user: "root", host: "localhost" },
    nameResolution,
  });
  const plan = formatSql({ rows, unmatched: [], unattributed: NONE }, meta("on"), ISO);
  const statements = plan.split("\n").filter((l) => !l.startsWith("--") && l !== "");
  assertEquals(statements, [
    "ALTER USER `idle`@`%` ACCOUNT LOCK;",
    "ALTER USER `old`@`%` ACCOUNT LOCK;",
    "ALTER USER `q``x`@`h'\\%` ACCOUNT LOCK;",
    "ALTER USER ''@`localhost` ACCOUNT LOCK;",
    "ALTER USER `named`@`db1.example.com` ACCOUNT LOCK;",
  ]);
  assert(plan.includes("-- DROP USER `idle`@`%`;"), plan);
  assert(plan.includes("line\\u000abreak"), plan);
  const off = formatSql({ rows, unmatched: [], unattributed: NONE }, meta("off"), ISO);
  assert(!off.includes("ALTER USER `named`"), off);
  assert(/Not locked: 'named'@'db1.example.com': the server runs with skip-name-resolve/.test(off));
  assertEquals(sqlAccountName({ user: "a`b", host: "%" }), "`a``b`@`%`");
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
    const doc = JSON.parse(r.stdout);
    // Watched since the first event the run read (the log above), not the old tool's rows.
    assertEquals(doc.watched_since, "2026-11-25T10:00:00+01:00");
    assertEquals(doc.unmatched, []);
    assertEquals(doc.accounts.map((a: Record<string, unknown>) => ({ ...a, reason: undefined })), [
      {
        name: "legacy",
        host: "10.0.0.5",
        status: "used",
        reason: undefined,
        last_seen: "2025-01-02T03:04:05+01:00",
        logins: 0,
        uncertain_logins: 0,
        last_uncertain_login: null,
        last_failed: "2026-11-25T10:00:01+01:00",
        failed_attempts: 1,
        client_hosts: ["10.0.0.5"],
        watched_since: "2026-11-25T10:00:00+01:00",
      },
      {
        name: "mysql",
        host: "localhost",
        status: "used",
        reason: undefined,
        last_seen: "2026-11-25T10:00:00+01:00",
        logins: 1,
        uncertain_logins: 0,
        last_uncertain_login: null,
        last_failed: null,
        failed_attempts: 0,
        client_hosts: ["localhost"],
        watched_since: "2026-11-25T10:00:00+01:00",
      },
    ]);
    assertEquals(await Deno.readFile(db), before);
  });
});

Deno.test("report: the old tool's host:port rows go to the account of the host; an unreadable last_seen is a doubt", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    const db = join(dir, "audit.sqlite");
    // The ledger: the old tool's rows, as it wrote them (newer servers log host:port), and one
    // event of ours, so that the watch has begun.
    const d = new DatabaseSync(db);
    d.exec(`CREATE TABLE Accounts (name TEXT, host TEXT, last_seen TEXT, PRIMARY KEY (name, host));
      INSERT INTO Accounts VALUES ('mysql', 'localhost', '2026-10-01 12:00:00+00:00'),
        ('app', '10.0.0.7:53422', '2026-11-10 10:00:00+00:00'),
        ('batch', 'localhost:unavailable', '2026-11-11 10:00:00+00:00'),
        ('batch', 'localhost', '2026-11-05 10:00:00+00:00'),
        ('weird', '10.0.0.9', 'last tuesday');`);
    d.close();
    const log = join(logs, "server_audit.log");
    await Deno.writeTextFile(log, "20261101 00:00:00,db1,other,10.0.0.1,6,0,CONNECT,,,0\n");
    await Deno.utime(log, new Date("2026-11-01T00:00:01Z"), new Date("2026-11-01T00:00:01Z"));
    const config = await writeConfig(dir, { AuditLogPath: logs, TimeLocation: "UTC" });
    assertEquals((await runCli(["--config", config])).code, 0);
    const accounts = join(dir, "acc.tsv");
    await Deno.writeTextFile(
      accounts,
      "app\t10.0.0.7\napp\t%\nbatch\tlocalhost\nweird\t%\nother\t%\n",
    );
    const r = await runCli([
      "--config",
      config,
      "report",
      "--accounts",
      accounts,
      "--format",
      "json",
    ]);
    assertEquals([r.code, r.stderr], [0, ""]);
    const doc = JSON.parse(r.stdout);
    const got = Object.fromEntries(
      doc.accounts.map((a: Record<string, string>) => [
        `${a.name}@${a.host}`,
        [a.status, a.last_seen],
      ]),
    );
    // Expected by hand: 10.0.0.7:53422 is the client 10.0.0.7, which 'app'@'10.0.0.7' takes;
    // localhost:unavailable is localhost, the later of the two rows counts.
    assertEquals(got, {
      "app@10.0.0.7": ["used", "2026-11-10T10:00:00+00:00"],
      "app@%": ["never-seen", null],
      "batch@localhost": ["used", "2026-11-11T10:00:00+00:00"],
      "weird@%": ["unknown", null],
      "other@%": ["used", "2026-11-01T00:00:00+00:00"],
    });
    const weird = doc.accounts.find((a: Record<string, string>) => a.name === "weird");
    assert(
      /the old tool saw weird@10\.0\.0\.9 log in; its last_seen "last tuesday"/.test(weird.reason),
    );
    assertEquals(doc.unmatched, []);
  });
});

Deno.test("report: mistakes are one line with exit 2; before any run exit 6", async () => {
  await withTempDir(async (dir) => {
    // A client that does not exist: the report must not get as far as asking the server.
    const client = join(dir, "no-such-mariadb");
    const config = await writeConfig(dir, { AuditLogPath: dir, MariadbClient: client });
    const cases: [string[], number, RegExp][] = [
      [["--format", "xml"], 2, /Invalid --format \\"xml\\"/],
      [["--sort", "age"], 2, /Invalid --sort \\"age\\"/],
      [["--unused-for", "90"], 2, /Invalid duration \\"90\\"/],
      [["--unused-for", "0d"], 2, /Invalid duration \\"0d\\": the period must be at least 1 day/],
      [["--unused-for", "99999999999y"], 2, /Invalid duration \\"99999999999y\\": .*at most 100/],
      [["--format", "sql"], 2, /--format sql needs the accounts/],
      [["--now", "yesterday"], 2, /Invalid --now \\"yesterday\\"/],
      [["--accounts", "x", "--accounts-from-server"], 2, /not both/],
      [["--accounts", join(dir, "nope.tsv")], 2, /Account list cannot be read.*file=\S+nope\.tsv/],
      [[], 6, /No run has completed yet: the database does not exist.*file=\S+audit\.sqlite/],
      [["--accounts-from-server"], 6, /No run has completed yet: the database does not exist/],
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
    const accounts = (JSON.parse(r.stdout) as { accounts: Record<string, unknown>[] }).accounts;
    assertEquals(
      accounts.map((a) => [a.name, a.host, a.status, a.last_seen, a.logins, a.failed_attempts]),
      [["app", "10.0.0.1", "used", "2026-11-25T10:00:00+01:00", 1, 0]],
    );
  });
});
