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
  type JsonReport,
  within,
} from "./attempts.ts";
import { runCli, sqlite3, withTempDir, writeConfig } from "./helpers.ts";
import {
  type Attempt,
  client,
  login,
  type MariaDb,
  rootSql,
  SERVER_TZ,
  withMariaDb,
} from "./mariadb.ts";
import { playResolve, playScenario, TRICKY } from "./scenario.ts";
import { real } from "./real.ts";

function e2e(name: string, fn: () => Promise<void>): void {
  real(name, ["mariadb"], fn);
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

/** A client option file for the server's root over the socket, as a DBA's `~/.my.cnf`. */
async function rootCnf(work: string, server: MariaDb): Promise<string> {
  const cnf = join(work, "client.cnf");
  await Deno.writeTextFile(cnf, `[client]\nsocket=${server.socket}\nuser=root\n`);
  return cnf;
}

/** Runs `report --accounts-from-server ARGS`; asserts exit 0 and no stderr; returns stdout. */
async function serverReport(config: string, ...args: string[]): Promise<string> {
  const r = await runCli(["--config", config, "report", "--accounts-from-server", ...args]);
  assertEquals([r.code, r.stderr], [0, ""]);
  return r.stdout;
}

e2e(
  "mariadb: report --accounts-from-server gives each login to the account the server chose (CURRENT_USER())",
  async () => {
    await withTempDir(async (work) => {
      await withMariaDb(
        { events: "CONNECT,QUERY,TABLE", rotateSize: 8192, rotations: 20 },
        async (server) => {
          const attempts = await playScenario(server);
          const config = await writeConfig(work, {
            AuditLogPath: dirname(server.auditLog),
            TimeLocation: SERVER_TZ,
            MariadbDefaultsFile: await rootCnf(work, server),
          });
          const run = await runCli(["--config", config]);
          assertEquals([run.code, run.stderr], [0, ""]);
          await compareActivity(join(work, "audit.sqlite"), attempts);

          const report = async (...args: string[]) =>
            JSON.parse(await serverReport(config, "--format", "json", ...args)) as JsonReport;
          const { accounts: rows } = await report();
          const [[count]] = await rootSql(
            server,
            "SELECT COUNT(*) FROM mysql.user WHERE is_role = 'N'",
          );
          assertEquals(rows.length, Number(count), "one row per account, the role left out");
          assertAttribution(rows, attempts);

          // --unused-for at a fixed --now: a day from now, the last run is a day old: what
          // came since is not read, so no account is unused or never-seen.
          const later = new Date(Date.now() + 86_400_000).toISOString();
          const dayLater = await report("--unused-for", "1d", "--now", later);
          assertEquals(dayLater.accounts.length, rows.length);
          assert(dayLater.accounts.every((r) => r.status === "unknown"), JSON.stringify(dayLater));
          // Now: the accounts not used are listed, and none is called unused.
          const dormant = await report("--unused-for", "1d", "--now", new Date().toISOString());
          assertEquals(
            dormant.accounts.map((r) => `${r.name}@${r.host}`).sort(),
            rows.filter((r) => r.status !== "used").map((r) => `${r.name}@${r.host}`).sort(),
          );
          assert(dormant.accounts.some((r) => r.name === "unused" && r.status === "unknown"));
        },
      );
    });
  },
);

for (const nameResolve of [true, false]) {
  e2e(
    `mariadb: name resolution ${
      nameResolve ? "on" : "off"
    }: report --accounts-from-server gives every login to CURRENT_USER()'s account or leaves it unknown`,
    async () => {
      await withTempDir(async (work) => {
        await withMariaDb({ events: "CONNECT", nameResolve }, async (server) => {
          const attempts = await playResolve(server);
          const cnf = await rootCnf(work, server);
          const config = await writeConfig(work, {
            AuditLogPath: dirname(server.auditLog),
            TimeLocation: SERVER_TZ,
            MariadbDefaultsFile: cnf,
          });
          const run = await runCli(["--config", config]);
          assertEquals([run.code, run.stderr], [0, ""]);
          const doc = JSON.parse(await serverReport(config, "--format", "json")) as JsonReport;

          // What the server itself says of the report's own login and of name resolution.
          const self = await client(
            ["-S", server.socket, "-uroot", "-N", "-B"],
            "SELECT CURRENT_USER(), @@skip_name_resolve",
          );
          const [me, skip] = self.stdout.trim().split("\t");
          assertEquals(`${doc.connected_as?.name}@${doc.connected_as?.host}`, me);
          assertEquals(doc.name_resolution, skip === "1" ? "off" : "on");
          assertEquals(skip, nameResolve ? "0" : "1");

          // With name resolution on, the logged host of TCP from 127.0.0.1 is localhost, not
          // the attempt's; a login from there may be the socket's account too.
          const exact = assertAttribution(doc.accounts, attempts, !nameResolve);
          const chosen = new Set(attempts.map((a) => a.currentUser).filter((c) => c));
          chosen.delete("root@localhost");
          if (!nameResolve) {
            assertEquals(exact, chosen.size, "without name resolution, all certain");
          } else assert(exact < chosen.size, "with name resolution, some logins stay uncertain");
          // The report logs in as root@localhost: its own login is no evidence of use.
          const root = doc.accounts.find((r) => `${r.name}@${r.host}` === me)!;
          assertEquals(root.status, "unknown", root.reason);
          assert(/report itself/.test(root.reason), root.reason);
        });
      });
    },
  );
}

e2e(
  "mariadb: report --format sql locks the never-seen accounts; a locked login fails with 4151, the others still log in",
  async () => {
    await withTempDir(async (work) => {
      await withMariaDb({ events: "CONNECT" }, async (server) => {
        // The odd name is as quote_exp measured: quotes, backslashes and a backtick (and a % in
        // the host, which a server with skip-name-resolve keeps at a restart).
        await rootSql(
          server,
          `CREATE USER 'keep'@'%' IDENTIFIED BY 'pw-keep';
           CREATE USER 'idle'@'%' IDENTIFIED BY 'pw-idle';
           CREATE USER \`q'u\\o\`\`te\`@\`h\\o'st%\` IDENTIFIED BY 'x';
           CREATE USER 'dormant'@'localhost' IDENTIFIED BY 'pw-dormant';`,
        );
        const attempts: Attempt[] = [];
        await login(server, attempts, "keep", "pw-keep", "tcp");
        const cnf = await rootCnf(work, server);
        const config = await writeConfig(work, {
          AuditLogPath: dirname(server.auditLog),
          TimeLocation: SERVER_TZ,
          MariadbDefaultsFile: cnf,
        });
        assertEquals((await runCli(["--config", config])).code, 0);
        const plan = await serverReport(config, "--format", "sql");
        const locks = plan.split("\n").filter((l) => l.startsWith("ALTER USER"));
        // Expected: the server's accounts but those the ledger logged in as (CURRENT_USER()),
        // the report's own (root@localhost), mariadb.sys, and those the server's error log
        // says it ignores (a host name under skip-name-resolve: ALTER USER would fail).
        const errors = await Deno.readTextFile(join(server.dir, "err.log"));
        const ignored = [...errors.matchAll(/'user' entry '(.*)' ignored in --skip-name-resolve/g)]
          .map((m) => m[1]);
        assert(ignored.length > 0, errors);
        const used = new Set([...attempts.map((a) => a.currentUser), "root@localhost", ...ignored]);
        const unhex = (h: string) =>
          new TextDecoder().decode(new Uint8Array(h.match(/../g)!.map((b) => parseInt(b, 16))));
        const accounts = (await rootSql(
          server,
          "SELECT HEX(User), HEX(Host) FROM mysql.user WHERE is_role = 'N'",
        )).map((r) => r.map(unhex));
        const never = accounts.filter(([u, h]) => !used.has(`${u}@${h}`) && u !== "mariadb.sys");
        const backticks = (s: string) => "`" + s.replaceAll("`", "``") + "`";
        assertEquals(
          locks.sort(),
          never.map(([u, h]) => `ALTER USER ${backticks(u)}@${backticks(h)} ACCOUNT LOCK;`).sort(),
        );
        assert(locks.includes("ALTER USER `q'u\\o``te`@`h\\o'st%` ACCOUNT LOCK;"), plan);
        assert(plan.includes("-- DROP USER `idle`@`%`;"), plan);
        assert(!/^(ALTER|DROP)/m.test(plan.replace(/^ALTER USER .* ACCOUNT LOCK;$/gm, "")), plan);

        // Applied as a DBA would, in a strict sql_mode that reads backslashes literally.
        const applied = await client(
          ["-S", server.socket, "-uroot"],
          `SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES';\n${plan}`,
        );
        assert(applied.ok, applied.stderr);
        const locked = await rootSql(
          server,
          "SELECT HEX(User), HEX(Host) FROM mysql.global_priv " +
            "WHERE Priv LIKE '%\"account_locked\":true%' AND User <> 'mariadb.sys'",
        );
        const key = ([u, h]: string[]) => `${u}@${h}`;
        assertEquals(locked.map((r) => key(r.map(unhex))).sort(), never.map(key).sort());
        const tryLogin = (user: string, password: string, via: "socket" | "tcp") =>
          client(
            [
              ...(via === "socket"
                ? ["-S", server.socket]
                : ["-h", "127.0.0.1", "-P", String(server.port), "--protocol=TCP"]),
              "-u",
              user,
              `-p${password}`,
              "-e",
              "SELECT 1",
            ],
          );
        for (
          const [user, password, via] of [["idle", "pw-idle", "tcp"], [
            "dormant",
            "pw-dormant",
            "socket",
          ]] as const
        ) {
          const r = await tryLogin(user, password, via);
          assert(!r.ok && /ERROR 4151/.test(r.stderr), `${user}: ${r.stderr}`);
        }
        assert((await tryLogin("keep", "pw-keep", "tcp")).ok, "keep still logs in");
        assert((await rootSql(server, "SELECT 1")).length === 1, "root still logs in");
      });
    });
  },
);
