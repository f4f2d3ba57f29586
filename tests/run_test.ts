import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { databaseFiles, discoverFiles } from "../lib/input/discover.ts";
import { SCHEMA_VERSION } from "../lib/store/schema.ts";
import {
  activity,
  copyAuditFiles,
  type Counted,
  FILES_10_11,
  FILES_FULL,
  FIXTURES,
  instantAt,
  prng,
  runCli,
  sqlite3,
  withTempDir,
  writeConfig,
} from "./helpers.ts";

const CET = "+01:00";

/** The oracle of the full capture: what its steps did, per logged user@host. */
function fullCaptureOracle(): Map<string, Counted> {
  const manifest = JSON.parse(
    Deno.readTextFileSync(join(FIXTURES, "mariadb-10.11-full", "manifest.json")),
  );
  const out = new Map<string, Counted>();
  for (const step of manifest.steps) {
    if (!step.log || !["connect", "change_user"].includes(step.action)) continue;
    const key = `${step.user}@${step.logged_host}`;
    const c = out.get(key) ?? { logins: 0, failed: 0 };
    const at = instantAt(step.log.ts, CET);
    if (step.result === "ok") {
      c.logins++;
      c.lastLogin = Math.max(c.lastLogin ?? 0, at);
    } else {
      c.failed++;
      c.lastFailed = Math.max(c.lastFailed ?? 0, at);
    }
    out.set(key, c);
  }
  return out;
}

Deno.test("run: the full real capture gives exactly what its manifest's steps did", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "logs"));
    await copyAuditFiles("mariadb-10.11-full", FILES_FULL, join(dir, "logs"));
    const config = await writeConfig(dir, { AuditLogPath: join(dir, "logs") });
    const result = await runCli(["--config", config]);
    assertEquals([result.code, result.stdout, result.stderr], [0, "", ""]);
    const expected = fullCaptureOracle();
    assert(expected.get("carol@localhost")?.logins === 1, "the oracle holds the change-user login");
    assertEquals(await activity(join(dir, "audit.sqlite")), expected);
    // Accounts, read by the README's query: successful logins only, at their last time.
    const accounts = await sqlite3(
      join(dir, "audit.sqlite"),
      "SELECT name, host, last_seen FROM Accounts;",
    );
    const want = [...expected].filter(([, c]) => c.logins > 0).map(([key, c]) => {
      const at = new Date(c.lastLogin! + 3_600_000).toISOString();
      return [key, `${at.slice(0, 10)} ${at.slice(11, 19)}${CET}`];
    });
    assertEquals(
      accounts.filter(([n]) => n !== "mysql").map(([n, h, t]) => [`${n}@${h}`, t]).sort(),
      want.sort(),
    );
  });
});

Deno.test("run: the first capture matches its manifest's expected block", async () => {
  await withTempDir(async (dir) => {
    await copyAuditFiles("mariadb-10.11", FILES_10_11, dir);
    const config = await writeConfig(dir, { AuditLogPath: dir });
    assertEquals((await runCli(["--config", config])).code, 0);
    const manifest = JSON.parse(
      await Deno.readTextFile(join(FIXTURES, "mariadb-10.11", "manifest.json")),
    );
    const got = await activity(join(dir, "audit.sqlite"));
    for (const [key, e] of Object.entries<Record<string, unknown>>(manifest.expected)) {
      const want: Counted = { logins: e.logins as number, failed: e.failed as number };
      if (e.last_login) want.lastLogin = instantAt(e.last_login as string, CET);
      if (e.last_failed) want.lastFailed = instantAt(e.last_failed as string, CET);
      assertEquals(got.get(key), want, key);
    }
    const extra = [...got.keys()].filter((k) => !(k in manifest.expected));
    assertEquals(extra, manifest.harness_accounts_not_in_steps);
  });
});

Deno.test("run: a second run with nothing new changes nothing", async () => {
  await withTempDir(async (dir) => {
    await copyAuditFiles("mariadb-10.11-full", FILES_FULL, dir);
    const config = await writeConfig(dir, { AuditLogPath: dir });
    await runCli(["--config", config]);
    const db = join(dir, "audit.sqlite");
    const dump = () => sqlite3(db, "SELECT * FROM Accounts ORDER BY 1, 2; SELECT * FROM activity;");
    const before = await dump();
    assertEquals((await runCli(["--config", config])).code, 0);
    assertEquals(await dump(), before);
    const bytes = await sqlite3(db, "SELECT bytes_read FROM runs ORDER BY started_ms;");
    assertEquals(bytes.map(([b]) => Number(b))[1], 0);
  });
});

Deno.test("run: a change-user whose account is named only in the next run is counted once, at its own time", async () => {
  await withTempDir(async (dir) => {
    const text = await Deno.readTextFile(join(FIXTURES, "mariadb-10.11", "server_audit.log.3"));
    const cut = text.indexOf("\n", text.indexOf(",CHANGEUSER,")) + 1;
    const log = join(dir, "server_audit.log");
    await Deno.writeTextFile(log, text.slice(0, cut));
    const config = await writeConfig(dir, { AuditLogPath: log });
    assertEquals((await runCli(["--config", config])).code, 0);
    const db = join(dir, "audit.sqlite");
    assertEquals(await sqlite3(db, "SELECT count(*) FROM pending_change_user;"), [["1"]]);
    assertEquals((await activity(db)).get("carol@localhost"), undefined);
    await Deno.writeTextFile(log, text.slice(cut), { append: true });
    assertEquals((await runCli(["--config", config])).code, 0);
    assertEquals((await activity(db)).get("carol@localhost"), {
      logins: 1,
      failed: 0,
      lastLogin: instantAt("20261124 23:52:36", CET),
    });
    assertEquals(await sqlite3(db, "SELECT count(*) FROM pending_change_user;"), [["0"]]);
    assertEquals(await sqlite3(db, "SELECT last_seen FROM Accounts WHERE name = 'carol';"), [[
      "2026-11-24 23:52:36+01:00",
    ]]);
  });
});

Deno.test("run: only audit files are read from a data directory full of other files", async () => {
  await withTempDir(async (dir) => {
    await copyAuditFiles("mariadb-10.11", ["server_audit.log"], dir);
    const next = prng(3306);
    const random = Uint8Array.from({ length: 256 * 1024 }, () => Math.floor(next() * 256));
    await Deno.writeFile(join(dir, "ibdata1"), random);
    await Deno.writeFile(
      join(dir, "mysql-bin.000001"),
      new Uint8Array([0xfe, 0x62, 0x69, 0x6e, ...random.subarray(0, 4096)]),
    );
    await Deno.writeTextFile(
      join(dir, "vm.err"),
      "2026-11-24 23:52:24 0 [Note] Server socket created on IP: '127.0.0.1', port: '3306'.\n",
    );
    await Deno.writeTextFile(join(dir, "notes,CONNECT,.txt"), "x,y,CONNECT,,,0\n");
    await Deno.mkdir(join(dir, "mysql"));
    await Deno.writeTextFile(
      join(dir, "mysql", "server_audit.log"),
      "20261124 23:52:24,vm,hidden,localhost,3,0,CONNECT,,,0\n",
    );
    const config = await writeConfig(dir, { AuditLogPath: dir });
    const result = await runCli(["--config", config]);
    assertEquals([result.code, result.stderr], [0, ""]);
    const db = join(dir, "audit.sqlite");
    assertEquals(await sqlite3(db, "SELECT path FROM checkpoints;"), [[
      join(dir, "server_audit.log"),
    ]]);
    assertEquals(await sqlite3(db, "SELECT files_read FROM runs;"), [["1"]]);
    const listed = discoverFiles({
      path: dir,
      recursive: false,
      exclude: databaseFiles(db),
    });
    assert(listed.files.some((f) => f.path.endsWith("ibdata1")), "other files are looked at");
    assert(!listed.files.some((f) => f.path.includes("audit.sqlite")), "the database never is");
    const users = await sqlite3(db, "SELECT DISTINCT name FROM activity ORDER BY 1;");
    assertEquals(users.flat(), ["alice", "root", "svc.report-1"]);
    // With recursion on, the file below the top level is read too.
    await Deno.writeTextFile(config, "AuditLogRecursive = true\n", { append: true });
    await Deno.utime(join(dir, "mysql", "server_audit.log"), new Date(), new Date());
    assertEquals((await runCli(["--config", config])).code, 0);
    assertEquals(
      await sqlite3(
        join(dir, "audit.sqlite"),
        "SELECT count(*) FROM activity WHERE name = 'hidden';",
      ),
      [["1"]],
    );
  });
});

Deno.test("run: an old tool's database is upgraded in place without losing a row", async () => {
  await withTempDir(async (dir) => {
    const dbPath = join(dir, "audit.sqlite");
    const old = new DatabaseSync(dbPath);
    old.exec(
      `CREATE TABLE Accounts (name TEXT, host TEXT, last_seen TIMESTAMP, PRIMARY KEY(name, host));
      INSERT INTO Accounts VALUES ('legacy', '10.9.8.7', '2023-01-02 03:04:05+01:00');
      INSERT INTO Accounts VALUES ('alice', '127.0.0.1', '2030-01-01 00:00:00+01:00');
      INSERT INTO Accounts VALUES ('bob', '127.0.0.1', '2020-01-01 00:00:00+01:00');
      INSERT INTO Accounts VALUES ('mysql', 'localhost', '2026-11-20 00:00:00+01:00');`,
    );
    old.close();
    await copyAuditFiles("mariadb-10.11", FILES_10_11, dir);
    const config = await writeConfig(dir, { AuditLogPath: dir });
    assertEquals((await runCli(["--config", config])).code, 0);
    const rows = new Map(
      (await sqlite3(dbPath, "SELECT name || '@' || host, last_seen FROM Accounts;"))
        .map(([k, v]) => [k, v]),
    );
    assertEquals(rows.get("legacy@10.9.8.7"), "2023-01-02 03:04:05+01:00");
    assertEquals(
      rows.get("alice@127.0.0.1"),
      "2030-01-01 00:00:00+01:00",
      "keeps the later instant",
    );
    assertEquals(rows.get("bob@127.0.0.1"), "2026-11-24 23:52:28+01:00");
    assertEquals(await sqlite3(dbPath, "PRAGMA user_version;"), [[String(SCHEMA_VERSION)]]);
  });
});

Deno.test("run: the watermark row is the newest file's mtime, truncated to the second; unchanged files are not read", async () => {
  await withTempDir(async (dir) => {
    const end = Date.parse("2026-11-25T10:00:00.900Z");
    await copyAuditFiles("mariadb-10.11", FILES_10_11, dir, end);
    const config = await writeConfig(dir, {
      AuditLogPath: dir,
      TimeLocation: "UTC",
    });
    assertEquals((await runCli(["--config", config])).code, 0);
    const db = join(dir, "audit.sqlite");
    assertEquals(
      await sqlite3(
        db,
        "SELECT last_seen FROM Accounts WHERE name = 'mysql' AND host = 'localhost';",
      ),
      [["2026-11-25 10:00:00+00:00"]],
    );
    assertEquals((await runCli(["--config", config])).code, 0);
    const lastRun = "SELECT files_read, bytes_read FROM runs ORDER BY started_ms DESC LIMIT 1;";
    assertEquals(await sqlite3(db, lastRun), [["0", "0"]], "nothing read: no file is newer");
    // An append in the same second: read (its new bytes only).
    await Deno.writeTextFile(
      join(dir, "server_audit.log"),
      "20261124 23:59:00,vm,late,127.0.0.1,99,0,CONNECT,,,0\n",
      { append: true },
    );
    await Deno.utime(join(dir, "server_audit.log"), new Date(end + 50), new Date(end + 50));
    const live = join(dir, "server_audit.log");
    const before = await sqlite3(db, `SELECT offset FROM checkpoints WHERE path = '${live}';`);
    assertEquals((await runCli(["--config", config])).code, 0);
    const appended = "20261124 23:59:00,vm,late,127.0.0.1,99,0,CONNECT,,,0\n".length;
    assertEquals(await sqlite3(db, lastRun), [["1", String(appended)]], "its new bytes only");
    assertEquals(await sqlite3(db, `SELECT offset FROM checkpoints WHERE path = '${live}';`), [[
      String(Number(before[0][0]) + appended),
    ]]);
    assertEquals(await sqlite3(db, "SELECT logins FROM activity WHERE name = 'late';"), [["1"]]);
  });
});

Deno.test("run: a zero-byte database file is initialised", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(join(dir, "audit.sqlite"), new Uint8Array());
    await copyAuditFiles("mariadb-10.11", ["server_audit.log"], dir);
    const config = await writeConfig(dir, { AuditLogPath: join(dir, "server_audit.log") });
    assertEquals((await runCli(["--config", config])).code, 0);
    assertEquals((await runCli(["--config", config])).code, 0);
    assertEquals(await sqlite3(join(dir, "audit.sqlite"), "SELECT count(*) > 0 FROM Accounts;"), [[
      "1",
    ]]);
  });
});

Deno.test("run: a file that is not SQLite is reported in one line, exit 1, and left untouched", async () => {
  await withTempDir(async (dir) => {
    const junk = new TextEncoder().encode("this is not a database ".repeat(100));
    await Deno.writeFile(join(dir, "audit.sqlite"), junk);
    await copyAuditFiles("mariadb-10.11", ["server_audit.log"], dir);
    const config = await writeConfig(dir, { AuditLogPath: dir });
    const result = await runCli(["--config", config]);
    assertEquals(result.code, 1);
    assertEquals(result.stderr.trim().split("\n").length, 1);
    assert(/not a valid SQLite database.*file=\S*audit\.sqlite/.test(result.stderr), result.stderr);
    assertEquals(await Deno.readFile(join(dir, "audit.sqlite")), junk);
  });
});

Deno.test("run: failed attempts never make an account look used", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      join(dir, "server_audit.log"),
      [
        "20261124 23:52:30,vm,mallory,127.0.0.1,10,0,FAILED_CONNECT,,,1045",
        "20261124 23:52:30,vm,mallory,127.0.0.1,10,0,DISCONNECT,,,0",
        "20261124 23:52:31,vm,old,127.0.0.1,11,0,CONNECT,,,1045",
        "20261124 23:52:37,vm,eve,localhost,14,0,CHANGEUSER,,,1045",
        "",
      ].join("\n"),
    );
    const config = await writeConfig(dir, { AuditLogPath: dir });
    assertEquals((await runCli(["--config", config])).code, 0);
    const db = join(dir, "audit.sqlite");
    assertEquals(await sqlite3(db, "SELECT count(*) FROM Accounts WHERE name != 'mysql';"), [[
      "0",
    ]]);
    assertEquals(
      await sqlite3(db, "SELECT name, logins, failed_attempts FROM activity ORDER BY 1;"),
      [
        ["eve", "0", "1"],
        ["mallory", "0", "1"],
        ["old", "0", "1"],
      ],
    );
  });
});

Deno.test("run: DST overlap in the log: the second pass is the later instant, also across runs", async () => {
  await withTempDir(async (dir) => {
    const log = join(dir, "server_audit.log");
    await Deno.writeTextFile(
      log,
      [
        "20241027 02:50:00,vm,night,10.0.0.1:4000,1,0,CONNECT,,,0",
        "20241027 02:59:59,vm,other,10.0.0.2:4000,2,0,CONNECT,,,0",
        "",
      ].join("\n"),
    );
    const config = await writeConfig(dir, { AuditLogPath: log });
    assertEquals((await runCli(["--config", config])).code, 0);
    // After 02:59:59 CEST the clock stepped back to 02:00 CET; 02:10 is the later instant.
    await Deno.writeTextFile(log, "20241027 02:10:00,vm,night,10.0.0.1:4001,3,0,CONNECT,,,0\n", {
      append: true,
    });
    assertEquals((await runCli(["--config", config])).code, 0);
    const db = join(dir, "audit.sqlite");
    assertEquals(await sqlite3(db, "SELECT host, last_seen FROM Accounts WHERE name = 'night';"), [[
      "10.0.0.1",
      "2024-10-27 02:10:00+01:00",
    ]]);
    assertEquals(
      await sqlite3(db, "SELECT logins, last_login_ms FROM activity WHERE name = 'night';"),
      [["2", String(Date.parse("2024-10-27T02:10:00+01:00"))]],
    );
  });
});
