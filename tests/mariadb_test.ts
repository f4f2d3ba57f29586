/**
 * End-to-end tests against a real MariaDB server with the audit plugin: the
 * test drives the server the way clients do, keeps its own record of what it
 * did and when, runs conntracker as cron would, and compares.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { dirname, join } from "node:path";
import mysql from "mysql2/promise";
import {
  assertAttribution,
  compareActivity,
  expectedFrom,
  type JsonRow,
  within,
} from "./attempts.ts";
import { runCli, sqlite3, withTempDir, writeConfig } from "./helpers.ts";
import { type Attempt, HAVE_MARIADB, login, rootSql, SERVER_TZ, withMariaDb } from "./mariadb.ts";
import { playScenario, TRICKY } from "./scenario.ts";

const CI = Boolean(Deno.env.get("CI"));
if (!HAVE_MARIADB && !CI) {
  console.error(
    "\n*** SKIPPING the MariaDB end-to-end tests: mariadbd not found " +
      "(apt-get install mariadb-server mariadb-client) ***\n",
  );
}

function e2e(name: string, fn: () => Promise<void>): void {
  // Without a server these fail under CI (withMariaDb throws) and are skipped, loudly, elsewhere.
  Deno.test({
    name,
    ignore: !HAVE_MARIADB && !CI,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });
}

const USERS = `
  CREATE USER 'svc.report-1'@'%' IDENTIFIED BY 'pw-svc';
  CREATE USER 'zoë'@'%' IDENTIFIED BY 'pw-zoe';
  CREATE USER 'app'@'%' IDENTIFIED BY 'pw-any';
  CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'pw-local';
  CREATE USER 'carol'@'localhost' IDENTIFIED BY 'pw-carol';
  CREATE DATABASE shop;
  GRANT ALL ON shop.* TO 'svc.report-1'@'%', 'zoë'@'%', 'app'@'%', 'app'@'127.0.0.1', 'carol'@'localhost';
`;

e2e(
  "mariadb: logins, failures, tricky queries and rotation between runs, counted exactly once",
  async () => {
    await withTempDir(async (work) => {
      await withMariaDb(
        { events: "CONNECT,QUERY,TABLE", rotateSize: 8192, rotations: 20 },
        async (server) => {
          await rootSql(server, USERS);
          const config = await writeConfig(work, {
            AuditLogPath: dirname(server.auditLog),
            TimeLocation: SERVER_TZ,
          });
          const db = join(work, "audit.sqlite");
          const attempts: Attempt[] = [];
          await login(server, attempts, "app", "pw-local", "tcp");
          await login(server, attempts, "zoë", "pw-zoe", "socket", TRICKY);
          await login(server, attempts, "svc.report-1", "pw-svc", "tcp", TRICKY);
          await login(server, attempts, "app", "wrong", "tcp");
          await login(server, attempts, "mallory", "nope", "tcp");
          await login(server, attempts, "carol", "pw-carol", "socket");
          let run = await runCli(["--config", config]);
          assertEquals([run.code, run.stdout, run.stderr], [0, "", ""]);
          await compareActivity(db, attempts);

          // Rotation by the plugin: on demand, then by size, between two runs.
          await rootSql(server, "SET GLOBAL server_audit_file_rotate_now = ON;");
          await new Promise((r) => setTimeout(r, 1100));
          await login(server, attempts, "zoë", "pw-zoe", "tcp");
          const burst = Array.from(
            { length: 120 },
            (_, i) => `SELECT ${i}, 'filler, ${"x".repeat(150)}';`,
          );
          await login(server, attempts, "svc.report-1", "pw-svc", "socket", burst.join("\n"));
          await login(server, attempts, "app", "pw-any", "socket");
          await login(server, attempts, "zoë", "bad", "socket");
          const files = [...Deno.readDirSync(dirname(server.auditLog))].map((e) => e.name);
          assert(files.length >= 3, `rotated files: ${files}`);
          run = await runCli(["--config", config]);
          assertEquals([run.code, run.stderr], [0, ""]);
          await compareActivity(db, attempts);

          // No new activity: nothing changes.
          const dump = () =>
            sqlite3(
              db,
              "SELECT * FROM Accounts ORDER BY 1, 2; SELECT * FROM activity ORDER BY 1, 2;",
            );
          const before = await dump();
          assertEquals((await runCli(["--config", config])).code, 0);
          assertEquals(await dump(), before);

          // The sqlite3 shell reads the README's query: successful logins only, at their last time.
          const rows = await sqlite3(db, "SELECT name, host, last_seen FROM Accounts;");
          const seen = new Map(rows.map(([n, h, t]) => [`${n}@${h}`, t]));
          for (const [key, e] of expectedFrom(attempts)) {
            if (!e.lastLogin) {
              assertEquals(seen.get(key), undefined, `${key} never logged in`);
              continue;
            }
            const text = seen.get(key)!;
            assert(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d$/.test(text), text);
            within(Date.parse(text.replace(" ", "T")), e.lastLogin, `${key} last_seen ${text}`);
          }
        },
      );
    });
  },
);

e2e(
  "mariadb: change-user through a driver is the new account's login; a failed one is a failed attempt",
  async () => {
    await withTempDir(async (work) => {
      await withMariaDb({ events: "CONNECT" }, async (server) => {
        await rootSql(server, USERS);
        const attempts: Attempt[] = [];
        let before = Date.now();
        const conn = await mysql.createConnection({
          socketPath: server.socket,
          user: "zoë",
          password: "pw-zoe",
        });
        await conn.query("SELECT 1");
        attempts.push({ user: "zoë", host: "localhost", ok: true, before, after: Date.now() });
        await new Promise((r) => setTimeout(r, 1100));
        before = Date.now();
        await conn.changeUser({ user: "carol", password: "pw-carol" });
        attempts.push({ user: "carol", host: "localhost", ok: true, before, after: Date.now() });
        const [rows] = await conn.query("SELECT CURRENT_USER() AS cu");
        assertEquals((rows as { cu: string }[])[0].cu, "carol@localhost");
        before = Date.now();
        await conn.changeUser({ user: "eve", password: "x" }).then(() => assert(false), () => {});
        attempts.push({ user: "eve", host: "localhost", ok: false, before, after: Date.now() });
        await conn.end().catch(() => {});
        // The server logs the successful change-user with an empty user and host (the spec's fact).
        const log = await Deno.readTextFile(server.auditLog);
        assert(/^\d{8} [\d:]{8},[^,]*,,,\d+,0,CHANGEUSER,O*,,0$/m.test(log), log);
        assert(/,eve,localhost,\d+,0,CHANGEUSER,,,1045$/m.test(log), log);
        const config = await writeConfig(work, {
          AuditLogPath: server.auditLog,
          TimeLocation: SERVER_TZ,
        });
        const run = await runCli(["--config", config]);
        assertEquals([run.code, run.stderr], [0, ""]);
        await compareActivity(join(work, "audit.sqlite"), attempts);
      });
    });
  },
);

e2e(
  "mariadb: report --accounts-from-server gives each login to the account the server chose (CURRENT_USER())",
  async () => {
    await withTempDir(async (work) => {
      await withMariaDb(
        { events: "CONNECT,QUERY,TABLE", rotateSize: 8192, rotations: 20 },
        async (server) => {
          const attempts = await playScenario(server);
          const cnf = join(work, "client.cnf");
          await Deno.writeTextFile(cnf, `[client]\nsocket=${server.socket}\nuser=root\n`);
          const config = await writeConfig(work, {
            AuditLogPath: dirname(server.auditLog),
            TimeLocation: SERVER_TZ,
            MariadbDefaultsFile: cnf,
          });
          const run = await runCli(["--config", config]);
          assertEquals([run.code, run.stderr], [0, ""]);
          await compareActivity(join(work, "audit.sqlite"), attempts);

          const report = async (...args: string[]) => {
            const r = await runCli([
              "--config",
              config,
              "report",
              "--accounts-from-server",
              "--format",
              "json",
              ...args,
            ]);
            assertEquals([r.code, r.stderr], [0, ""]);
            return JSON.parse(r.stdout) as JsonRow[];
          };
          const rows = await report();
          const [[count]] = await rootSql(
            server,
            "SELECT COUNT(*) FROM mysql.user WHERE is_role = 'N'",
          );
          assertEquals(rows.length, Number(count), "one row per account, the role left out");
          assertAttribution(rows, attempts);

          // --unused-for at a fixed --now: a day from now, every account has been unused for a
          // minute; now, only those never used have been unused for a day.
          const later = new Date(Date.now() + 86_400_000).toISOString();
          assertEquals((await report("--unused-for", "1d", "--now", later)).length, rows.length);
          const dormant = await report("--unused-for", "1d", "--now", new Date().toISOString());
          assertEquals(
            dormant.map((r) => `${r.name}@${r.host}`).sort(),
            rows.filter((r) => r.logins === 0).map((r) => `${r.name}@${r.host}`).sort(),
          );
          assert(dormant.some((r) => r.name === "unused" && r.host === "%"));
          assert(dormant.every((r) => r.last_seen === null));
        },
      );
    });
  },
);
