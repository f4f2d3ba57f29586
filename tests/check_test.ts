/**
 * `conntracker check` against a real MariaDB server with the audit plugin and
 * the real logrotate: each logrotate trap is reproduced (the plugin is shown
 * writing the renamed or deleted file, by where the test's own logins land),
 * then check must report it. The system paths check reads (logrotate,
 * systemd, cron) are a temp root.
 */

import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert";
import { dirname, join } from "node:path";
import { databaseFindings } from "../lib/check/database.ts";
import { calendarToCron, cronInterval, findInterval } from "../lib/check/interval.ts";
import { lastRunFindings, readRunHistory } from "../lib/check/last_run.ts";
import { logrotateFindings, parseLogrotate, readLogrotate } from "../lib/check/logrotate.ts";
import { type Finding, runCheck } from "../lib/check/mod.ts";
import { formatSpan, growthRate, rotationFindings } from "../lib/check/rotation.ts";
import { parseTimeSpan, TimeSpanError } from "../lib/check/time_span.ts";
import { zoneFindings } from "../lib/check/zone.ts";
import { loadZone } from "../lib/time/zone.ts";
import { loadConfig } from "../lib/config.ts";
import { client, type MariaDb, rootSql, withMariaDb } from "./mariadb.ts";
import { real } from "./real.ts";
import {
  AS_UNPRIVILEGED,
  copyAuditFiles,
  FILES_10_11,
  ROOT,
  runCli,
  sqlite3,
  withTempDir,
  writeConfig,
} from "./helpers.ts";

function e2e(name: string, fn: () => Promise<void>): void {
  real(name, ["mariadb", "logrotate"], fn);
}

/** Logs in `n` times as `user` (created first) and returns how many logins succeeded. */
async function logins(server: MariaDb, user: string, n: number): Promise<number> {
  await rootSql(server, `CREATE USER IF NOT EXISTS '${user}'@'localhost' IDENTIFIED BY 'pw'`);
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const r = await client(["-S", server.socket, `-u${user}`, "-ppw", "-e", "SELECT 1"]);
    if (r.ok) ok++;
  }
  return ok;
}

/** The successful CONNECT lines of `user` in every file of the audit folder, by file name. */
async function connectsByFile(server: MariaDb, user: string): Promise<Record<string, number>> {
  const dir = dirname(server.auditLog);
  const counts: Record<string, number> = {};
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    const text = e.name.endsWith(".gz")
      ? new TextDecoder().decode(
        (await new Deno.Command("zcat", { args: [path], stdout: "piped" }).output()).stdout,
      )
      : await Deno.readTextFile(path);
    const n = text.split("\n").filter((l) =>
      l.includes(`,${user},localhost,`) && /,CONNECT,[^,]*,[^,]*,0$/.test(l)
    ).length;
    if (n > 0) {
      counts[e.name] = n;
    }
  }
  return counts;
}

/** Runs the real logrotate once (`-f`) with this block, from the temp root's logrotate.d. */
async function rotate(server: MariaDb, root: string, directives: string[]): Promise<void> {
  const conf = join(root, "etc", "logrotate.d", "mariadb-audit");
  await Deno.mkdir(dirname(conf), { recursive: true });
  await Deno.writeTextFile(
    conf,
    [`${server.auditLog} {`, "  rotate 4", "  missingok", "  nodateext", ...directives, "}", ""]
      .map((l) => l.startsWith("  ") || l === "}" || l === "" || l.startsWith("/") ? l : `  ${l}`)
      .join("\n"),
  );
  const out = await new Deno.Command("/usr/sbin/logrotate", {
    args: ["-f", "-s", join(root, "logrotate.state"), conf],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`logrotate: ${new TextDecoder().decode(out.stderr)}`);
}

/** Empties the audit folder and makes the plugin reopen its file, for the next scenario. */
async function reset(server: MariaDb, root: string): Promise<void> {
  const dir = dirname(server.auditLog);
  for await (const e of Deno.readDir(dir)) await Deno.remove(join(dir, e.name));
  await rootSql(server, REOPEN_SQL);
  await Deno.remove(join(root, "etc"), { recursive: true }).catch(() => {});
  await Deno.remove(join(root, "logrotate.state")).catch(() => {});
}

const REOPEN_SQL = "SET GLOBAL server_audit_logging = OFF; SET GLOBAL server_audit_logging = ON";

async function checkConfig(dir: string, server: MariaDb, keys: Record<string, string> = {}) {
  const cnf = join(dir, "client.cnf");
  await Deno.writeTextFile(cnf, `[client]\nsocket = ${server.socket}\nuser = root\n`);
  return await loadConfig(
    await writeConfig(dir, {
      AuditLogPath: dirname(server.auditLog),
      MariadbDefaultsFile: cnf,
      ...keys,
    }),
  );
}

function having(findings: Finding[], check: string, severity: string, text: string): Finding[] {
  return findings.filter((f) =>
    f.check === check && f.severity === severity && f.message.includes(text)
  );
}

function show(findings: Finding[]): string {
  return findings.map((f) => `${f.severity} ${f.check} ${f.message}`).join("\n");
}

e2e(
  "check: each logrotate trap, reproduced on a real server, is reported; the safe rotations are ok",
  async () => {
    await withTempDir(async (dir) => {
      const root = join(dir, "root");
      await Deno.mkdir(root);
      await withMariaDb({ events: "CONNECT", rotations: 0 }, async (server) => {
        const config = await checkConfig(dir, server);
        const live = "server_audit.log";
        const check = () => runCheck({ config, root, intervalMs: 300_000 });

        // 1. Rename and create, no reopen: the plugin keeps writing the renamed file.
        assertEquals(await logins(server, "before1", 1), 1);
        await rotate(server, root, ["create 0660 mysql mysql"]);
        await new Promise((r) => setTimeout(r, 1100));
        assertEquals(await logins(server, "trap1", 3), 3);
        assertEquals(await connectsByFile(server, "trap1"), { [`${live}.1`]: 3 });
        let findings = await check();
        assert(
          having(findings, "logrotate", "error", "without making the plugin reopen it").length,
          show(findings),
        );
        assert(
          having(findings, "files", "error", "changed after the live file").length,
          show(findings),
        );
        assert(
          having(findings, "files", "error", `has ${server.auditLog}.1 open`).length,
          show(findings),
        );
        // The command line: one line per finding, exit 5; the same findings as JSON.
        const table = await runCli(["--config", config.file, "check", "--interval", "5min"]);
        assertEquals(table.code, 5, table.stderr);
        const rows = table.stdout.trimEnd().split("\n");
        assert(rows.every((l) => /^(ok|warn|error) +[a-z-]+ +\S/.test(l)), table.stdout);
        assert(
          rows.some((l) => /^error +files +.*has .*\.1 open.*Fix: SET GLOBAL/.test(l)),
          table.stdout,
        );
        const json = await runCli(["--config", config.file, "check", "--format", "json"]);
        assertEquals(json.code, 5);
        const parsed = JSON.parse(json.stdout) as Finding[];
        assertEquals(parsed.length, rows.length, json.stdout);
        assert(having(parsed, "files", "error", "changed after the live file").length, json.stdout);

        // 2. Rename, create and compress at once: the plugin writes a deleted file.
        await reset(server, root);
        assertEquals(await logins(server, "before2", 1), 1);
        await rotate(server, root, ["create 0660 mysql mysql", "compress"]);
        assertEquals(await logins(server, "trap2", 3), 3);
        assertEquals(await connectsByFile(server, "trap2"), {}, "the logins went nowhere");
        assertEquals(await connectsByFile(server, "before2"), { [`${live}.1.gz`]: 1 });
        findings = await check();
        assert(
          having(findings, "logrotate", "error", "compresses it at once").length,
          show(findings),
        );
        assert(having(findings, "files", "error", "into a deleted file").length, show(findings));

        // 3. copytruncate: the plugin goes on writing the live file.
        await reset(server, root);
        assertEquals(await logins(server, "before3", 1), 1);
        await rotate(server, root, ["copytruncate", "compress", "delaycompress"]);
        assertEquals(await logins(server, "safe3", 3), 3);
        assertEquals(await connectsByFile(server, "safe3"), { [live]: 3 });
        findings = await check();
        assert(having(findings, "logrotate", "ok", "with copytruncate").length, show(findings));
        assertEquals(findings.filter((f) => f.severity === "error"), [], show(findings));

        // 4. Rename, then a postrotate that sets server_audit_logging OFF and ON: reopened.
        await reset(server, root);
        assertEquals(await logins(server, "before4", 1), 1);
        await rotate(server, root, [
          "nocreate",
          "postrotate",
          `  mariadb --no-defaults -S ${server.socket} -uroot -e '${REOPEN_SQL}'`,
          "endscript",
        ]);
        assertEquals(await logins(server, "safe4", 3), 3);
        assertEquals(await connectsByFile(server, "safe4"), { [live]: 3 });
        findings = await check();
        assert(
          having(findings, "logrotate", "ok", "postrotate sets server_audit_logging").length,
          show(findings),
        );
        assertEquals(findings.filter((f) => f.severity === "error"), [], show(findings));
      });
    });
  },
);

e2e(
  "check: the plugin's settings, the zone and the rotation, asked from a real server",
  async () => {
    await withTempDir(async (dir) => {
      const root = join(dir, "root");
      await Deno.mkdir(join(root, "etc", "cron.d"), { recursive: true });
      await Deno.writeTextFile(
        join(root, "etc", "cron.d", "conntracker"),
        "MAILTO=root\n* * * * * conntracker /usr/bin/conntracker\n",
      );
      await withMariaDb(
        { events: "CONNECT,QUERY", rotateSize: 4096, rotations: 3 },
        async (server) => {
          // About 40 KB of QUERY lines within a second or two: the 3 rotations of 4 KB last
          // well under the minute between runs that the cron file says.
          await rootSql(server, "SELECT 'x';\n".repeat(400));
          const zurich = await checkConfig(dir, server);
          let findings = await runCheck({ config: zurich, root });
          assert(
            having(findings, "zone", "ok", "as TimeLocation = Europe/Zurich").length,
            show(findings),
          );
          assert(
            having(findings, "schedule", "ok", "every 1m (/etc/cron.d/conntracker)").length,
            show(findings),
          );
          assert(
            having(findings, "rotation", "error", "less than the 1m between runs").length,
            show(findings),
          );
          assert(
            having(findings, "plugin", "ok", "among the files AuditLogPath finds").length,
            show(findings),
          );

          // The server runs in Europe/Zurich (UTC+1 in winter, +2 in summer): UTC is wrong.
          const utc = await checkConfig(dir, server, { TimeLocation: "UTC" });
          findings = await runCheck({ config: utc, root });
          assert(
            having(findings, "zone", "error", "TimeLocation = UTC is UTC+00:00").length,
            show(findings),
          );

          await rootSql(server, "SET GLOBAL server_audit_events = 'QUERY'");
          findings = await runCheck({ config: zurich, root });
          assert(having(findings, "plugin", "error", "leaves out CONNECT").length, show(findings));
          await rootSql(server, "SET GLOBAL server_audit_events = 'CONNECT'");

          await rootSql(server, "SET GLOBAL server_audit_logging = OFF");
          findings = await runCheck({ config: zurich, root });
          assert(
            having(findings, "plugin", "error", "server_audit_logging is OFF").length,
            show(findings),
          );
          await rootSql(server, "SET GLOBAL server_audit_logging = ON");

          const elsewhere = await checkConfig(dir, server, { AuditLogPath: root });
          findings = await runCheck({ config: elsewhere, root });
          assert(having(findings, "plugin", "error", "do not find").length, show(findings));
        },
      );
    });
  },
);

Deno.test("check: no server to ask, and audit files this user cannot read, are errors (exit 5)", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    await Deno.writeTextFile(
      join(logs, "server_audit.log"),
      "20261201 10:00:00,vm,app,localhost,1,0,CONNECT,,,0\n",
    );
    await Deno.chmod(join(logs, "server_audit.log"), 0o000);
    const path = await writeConfig(dir, {
      AuditLogPath: logs,
      MariadbDefaultsFile: join(dir, "none.cnf"),
    });
    await Deno.writeTextFile(join(dir, "none.cnf"), `[client]\nsocket = ${dir}/no.sock\n`);
    const r = await runCli(["--config", path, "check", "--format", "json"], {}, AS_UNPRIVILEGED);
    assertEquals(r.code, 5, r.stderr);
    const findings = JSON.parse(r.stdout) as Finding[];
    assert(having(findings, "server", "error", "Cannot ask the server").length, r.stdout);
    assert(having(findings, "files", "error", "cannot read").length, r.stdout);
    assert(having(findings, "files", "error", join(logs, "server_audit.log")).length, r.stdout);
  });
});

Deno.test("check: a database that is not SQLite is an error finding (exit 5), the file untouched", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    await Deno.writeTextFile(
      join(logs, "server_audit.log"),
      "20261201 10:00:00,vm,app,localhost,1,0,CONNECT,,,0\n",
    );
    const db = join(dir, "audit.sqlite");
    const junk = new TextEncoder().encode("not a database, ".repeat(400));
    await Deno.writeFile(db, junk);
    const path = await writeConfig(dir, { AuditLogPath: logs, MariadbClient: join(dir, "none") });
    const r = await runCli(["--config", path, "check", "--format", "json"]);
    assertEquals([r.code, r.stderr], [5, ""]);
    const findings = JSON.parse(r.stdout) as Finding[];
    assert(
      having(findings, "database", "error", `${db}: Database file is not a valid SQLite database`)
        .length,
      r.stdout,
    );
    assertEquals(await Deno.readFile(db), junk);
    // Not asked, the server's rotation setting is unknown: not "server_audit_file_rotations = 0".
    assertEquals(
      findings.filter((f) => f.check === "logrotate").map((f) => f.severity),
      ["ok"],
      r.stdout,
    );
  });
});

Deno.test("findInterval() reads contrib's timer, then the cron file, then root's crontab, then --interval", async () => {
  await withTempDir(async (root) => {
    assertEquals(await findInterval({ root }), undefined);
    assertEquals(await findInterval({ root, fallbackMs: 600_000 }), {
      ms: 600_000,
      source: "--interval",
    });
    const crontab = join(root, "var", "spool", "cron", "crontabs", "root");
    await Deno.mkdir(dirname(crontab), { recursive: true });
    await Deno.writeTextFile(
      crontab,
      "# m h dom mon dow command\n0 * * * * /usr/bin/conntracker\n",
    );
    assertEquals(await findInterval({ root }), {
      ms: 3_600_000,
      source: "/var/spool/cron/crontabs/root",
    });
    await Deno.mkdir(join(root, "etc", "cron.d"), { recursive: true });
    await Deno.copyFile(
      join(ROOT, "contrib", "conntracker.cron"),
      join(root, "etc", "cron.d", "conntracker"),
    );
    assertEquals(await findInterval({ root }), { ms: 300_000, source: "/etc/cron.d/conntracker" });
    const timer = join(root, "etc", "systemd", "system", "conntracker.timer");
    await Deno.mkdir(dirname(timer), { recursive: true });
    await Deno.writeTextFile(timer, "[Timer]\nOnCalendar=*:0/20\n");
    assertEquals(await findInterval({ root }), {
      ms: 1_200_000,
      source: "/etc/systemd/system/conntracker.timer",
    });
    await Deno.copyFile(join(ROOT, "contrib", "conntracker.timer"), timer);
    assertEquals((await findInterval({ root }))?.ms, 300_000);
  });
});

Deno.test("calendarToCron() and parseTimeSpan() take the common systemd forms", () => {
  assertEquals(calendarToCron("*:0/5"), "0/5 * * * *");
  assertEquals(calendarToCron("*-*-* *:00/10:00"), "00/10 * * * *");
  assertEquals(calendarToCron("hourly"), "0 * * * *");
  assertEquals(calendarToCron("Mon *-*-* 10:00"), undefined);
  assertEquals(cronInterval("15,45 * * * *"), 1_800_000);
  assertEquals(cronInterval("0 8,20 * * *"), 12 * 3_600_000);
  assertEquals(parseTimeSpan("5min"), 300_000);
  assertEquals(parseTimeSpan("1h 30min"), 5_400_000);
  assertEquals(parseTimeSpan("90"), 90_000);
  throws(() => parseTimeSpan("5 parsecs"), TimeSpanError);
});

Deno.test("logrotate: Debian's real configuration covers /var/log/mysql/*.log the trap's way; contrib's is safe", async () => {
  await withTempDir(async (root) => {
    await Deno.mkdir(join(root, "etc", "logrotate.d"), { recursive: true });
    // Debian's own files, as logrotate and mariadb-server install them.
    await Deno.copyFile("/etc/logrotate.conf", join(root, "etc", "logrotate.conf"));
    const debian = "/etc/logrotate.d/mariadb";
    const haveDebian = await Deno.stat(debian).then(() => true, () => false);
    if (haveDebian) await Deno.copyFile(debian, join(root, "etc", "logrotate.d", "mariadb"));
    await Deno.copyFile(
      join(ROOT, "contrib", "logrotate.d", "mariadb-audit"),
      join(root, "etc", "logrotate.d", "mariadb-audit"),
    );
    // logrotate skips these names in an included folder.
    await Deno.writeTextFile(
      join(root, "etc", "logrotate.d", "old.dpkg-old"),
      "/var/lib/mysql/*.log {\n}\n",
    );
    const blocks = await readLogrotate({ root });
    assertEquals(blocks.some((b) => b.file.endsWith(".dpkg-old")), false);
    const ours = logrotateFindings(blocks, "/var/lib/mysql/server_audit.log", 0);
    assertEquals(ours.map((f) => [f.severity, f.message]), [[
      "ok",
      "/etc/logrotate.d/mariadb-audit:34 rotates /var/lib/mysql/server_audit.log with copytruncate",
    ]]);
    const both = logrotateFindings(blocks, "/var/lib/mysql/server_audit.log", 9);
    assert(having(both, "logrotate", "warn", "which the plugin rotates too").length, show(both));
    if (haveDebian) {
      const moved = logrotateFindings(blocks, "/var/log/mysql/server_audit.log", 0);
      assertEquals(moved.map((f) => f.severity), ["error"], show(moved));
      assert(moved[0].message.startsWith("/etc/logrotate.d/mariadb:9 renames"), moved[0].message);
      assert(moved[0].message.includes("keeps writing the renamed file"), moved[0].message);
    } else console.error("*** /etc/logrotate.d/mariadb not installed: Debian's case skipped ***");
  });
});

Deno.test("logrotate: globals apply to later blocks; compress without delaycompress or notifempty is the worse trap", () => {
  const text = [
    "compress",
    "include /etc/logrotate.d",
    "/a/server_audit.log {",
    "  create",
    "}",
    '"/b/server_audit.log" {',
    "  delaycompress",
    "}",
    "/c/server_audit.log {",
    "  delaycompress",
    "  notifempty",
    "  nocompress",
    "}",
    "/d/*.log {",
    "  postrotate",
    "    mariadb -e 'SET GLOBAL server_audit_logging = OFF; SET GLOBAL server_audit_logging = ON'",
    "  endscript",
    "}",
  ].join("\n");
  const { blocks, includes } = parseLogrotate("/etc/logrotate.conf", text, new Set());
  assertEquals(includes, ["/etc/logrotate.d"]);
  const severity = (path: string) =>
    logrotateFindings(blocks, path, 0).map((
      f,
    ) => [f.severity, /compresses it (at once|on the next)/.exec(f.message)?.[1]]);
  assertEquals(severity("/a/server_audit.log"), [["error", "at once"]]);
  assertEquals(severity("/b/server_audit.log"), [["error", "on the next"]]);
  assertEquals(severity("/c/server_audit.log"), [["error", undefined]]);
  assertEquals(severity("/d/server_audit.log"), [["ok", undefined]]);
  assertEquals(logrotateFindings(blocks, "/e/server_audit.log", 0)[0].severity, "warn");
  assertEquals(logrotateFindings(blocks, "/e/server_audit.log", 5)[0].severity, "ok");
});

Deno.test("rotationFindings() weighs how long the rotations last against the interval", () => {
  const hour = 3_600_000;
  const now = Date.UTC(2026, 11, 1, 12);
  // .1 closed two hours ago; since then 0.5 MB: 0.25 MB/h, so 9 rotations of 1 MB last 36 h.
  const input = {
    settings: {
      logging: true,
      events: ["CONNECT"],
      outputType: "file",
      filePath: "/x/server_audit.log",
      rotateSize: 1_000_000,
      rotations: 9,
      queryLogLimit: 1024,
    },
    live: { path: "/x/server_audit.log", size: 500_000, mtimeMs: now },
    rotated: [{ path: "/x/server_audit.log.1", size: 1_000_000, mtimeMs: now - 2 * hour }],
    nowMs: now,
  };
  const at = (ms: number) => rotationFindings({ ...input, interval: { ms, source: "test" } })[0];
  assertEquals(at(5 * 60_000).severity, "ok");
  assert(
    at(5 * 60_000).message.includes("last about 1d12h at the current 0.25 MB/h"),
    at(5 * 60_000).message,
  );
  assertEquals(at(20 * hour).severity, "warn");
  assertEquals(at(36 * hour).severity, "error");
  assertEquals(at(35 * hour).severity, "warn");
  assertEquals(growthRate(input.live, input.rotated, now), 500_000 / (2 * hour));
  assertEquals(formatSpan(36 * hour), "1d12h");
});

Deno.test("databaseFindings() wants the database private and out of the data directory", async () => {
  await withTempDir(async (dir) => {
    const db = join(dir, "audit.sqlite");
    assertEquals((await databaseFindings({ sqlitePath: db }))[0].severity, "warn");
    assertEquals(
      (await databaseFindings({ sqlitePath: join(dir, "no", "audit.sqlite") }))[0].severity,
      "error",
    );
    await Deno.writeTextFile(db, "");
    const at = async (mode: number, datadir?: string) => {
      await Deno.chmod(db, mode);
      return (await databaseFindings({ sqlitePath: db, datadir })).map((f) => f.severity);
    };
    assertEquals(await at(0o640), ["ok"]);
    assertEquals(await at(0o644), ["warn"]);
    assertEquals(await at(0o666), ["error"]);
    assertEquals(await at(0o600, dir + "/"), ["ok", "warn"]);
    assertEquals(await at(0o600, join(dir, "other")), ["ok"]);
  });
});

Deno.test("check: the last run's outcome and losses come from the runs and losses tables", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    await copyAuditFiles("mariadb-10.11", FILES_10_11, logs);
    const path = await writeConfig(dir, { AuditLogPath: logs, MetricsFile: join(dir, "c.prom") });
    const config = await loadConfig(path);
    const now = Date.now();
    assertEquals(readRunHistory(config, now), undefined);
    assertEquals((await runCli(["--config", path])).code, 0);
    const history = readRunHistory(config, Date.now())!;
    const [[files, bytes]] = await sqlite3(
      config.sqlitePath,
      "SELECT files_read, bytes_read FROM runs",
    );
    assertEquals([history.last?.filesRead, history.last?.bytesRead], [
      Number(files),
      Number(bytes),
    ]);
    const metricsText = await Deno.readTextFile(join(dir, "c.prom"));
    let findings = lastRunFindings({ history, nowMs: Date.now(), metricsText });
    assertEquals(findings.map((f) => f.severity), ["ok"], show(findings));
    // Three intervals later without a run.
    findings = lastRunFindings({
      history,
      nowMs: history.last!.finishedMs + 16 * 60_000,
      interval: { ms: 300_000, source: "test" },
    });
    assert(
      having(findings, "last-run", "warn", "more than three intervals ago").length,
      show(findings),
    );
    // A loss, as a run records it (tests/run_test.ts makes real ones).
    await new Deno.Command("sqlite3", {
      args: [
        config.sqlitePath,
        "INSERT INTO losses (detected_ms, path, fingerprint, unread_bytes, from_ms, to_ms) " +
        "SELECT finished_ms, '/x/server_audit.log.9', 'fp', 512, NULL, 0 FROM runs;" +
        "UPDATE runs SET losses = 1;",
      ],
    }).output();
    findings = lastRunFindings({ history: readRunHistory(config, Date.now()), nowMs: Date.now() });
    assert(
      having(
        findings,
        "last-run",
        "error",
        "found 1 audit file removed before it was read to the end: the events up to " +
          "1970-01-01T00:00:00.000Z were never read (at least 512 bytes)",
      ).length,
      show(findings),
    );
    // A loss of a file still being written: its unread bytes are unknown (0), its time range not.
    await new Deno.Command("sqlite3", {
      args: [
        config.sqlitePath,
        "UPDATE losses SET unread_bytes = 0, from_ms = 1796119200000, to_ms = 1796119260000;" +
        "UPDATE runs SET losses = 0;",
      ],
    }).output();
    findings = lastRunFindings({ history: readRunHistory(config, Date.now()), nowMs: Date.now() });
    const week = having(findings, "last-run", "warn", "1 audit file lost to rotation");
    assertEquals(
      week.map((f) => f.message),
      [
        "1 audit file lost to rotation in the last 7 days: the events from " +
        "2026-12-01T10:00:00.000Z to 2026-12-01T10:01:00.000Z were never read; see the losses table",
      ],
      show(findings),
    );
    findings = lastRunFindings({
      history: readRunHistory(config, Date.now()),
      nowMs: Date.now(),
      metricsText: metricsText.replace(
        /^conntracker_last_run_success 1$/m,
        "conntracker_last_run_success 0",
      ),
    });
    assert(
      having(findings, "last-run", "error", "MetricsFile says the last run failed").length,
      show(findings),
    );
  });
});

Deno.test("zoneFindings(): an offset that agrees today but not all year is a warning", () => {
  const variables = (zone: string, offset: number) =>
    new Map([["system_time_zone", zone], ["time_zone", "SYSTEM"], [
      "system_offset_seconds",
      String(offset),
    ]]);
  const winter = Date.UTC(2026, 0, 10);
  const london = loadZone("Europe/London");
  assertEquals(
    zoneFindings({ variables: variables("UTC", 0), timeLocation: london, nowMs: winter })
      .map((f) => f.severity),
    ["warn"],
  );
  assertEquals(
    zoneFindings({ variables: variables("GMT", 0), timeLocation: loadZone("UTC"), nowMs: winter })
      .map((f) => f.severity),
    ["ok"],
  );
  // Summer: London is UTC+1, the server UTC.
  const summer = zoneFindings({
    variables: variables("UTC", 0),
    timeLocation: london,
    nowMs: Date.UTC(2026, 6, 1),
  });
  assertEquals(summer.map((f) => f.severity), ["error"]);
  assert(summer[0].message.includes("1 h early"), summer[0].message);
});
