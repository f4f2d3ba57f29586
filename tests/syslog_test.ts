/**
 * Servers that log to syslog: the syslog line form, the traditional
 * timestamp's year and zone, files told apart by content, the real capture
 * through rsyslogd (both formats) against its manifest and against the
 * file-mode capture of the same scenario, and rsyslog's files rotated by the
 * real logrotate between runs. Expected instants are written out from the
 * zone's known offsets; counts come from the captures' ledgers.
 */

import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { compareActivity } from "./attempts.ts";
import {
  activity,
  copyAuditFiles,
  countsByAccount,
  FIXTURES,
  runCli,
  sqlite3,
  withTempDir,
  writeConfig,
} from "./helpers.ts";
import { type Attempt, login, rootSql, withMariaDb } from "./mariadb.ts";
import { real } from "./real.ts";
import { devLogWrap, logger, logrotate, waitForLines, withRsyslog } from "./rsyslog.ts";
import { SYSLOG_CAPTURE } from "./capture_syslog.ts";
import { pluginFindings } from "../lib/check/plugin.ts";
import { formatChoice, formatOfFile } from "../lib/format/identify.ts";
import { lineTimestamp, syslogFormat, timestampReader } from "../lib/format/line.ts";
import { lineFormat } from "../lib/format/line.ts";
import { parseSyslogRecord, syslogWall } from "../lib/format/syslog.ts";
import { ConfigError, loadConfig, parseConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { runTracking } from "../lib/track/run.ts";
import { clockInstant, createLogClock } from "../lib/time/clock.ts";
import { compileLayout } from "../lib/time/layout.ts";
import { loadZone } from "../lib/time/zone.ts";

const IDENT = "mysql-server_auditing";
const ZURICH = loadZone("Europe/Zurich");
const FILE = lineFormat(compileLayout("20060102 15:04:05"));
const SYSLOG = syslogFormat(FILE, IDENT);
const encode = (text: string) => new TextEncoder().encode(text);

/** Zurich wall time with its offset in hours (+1 winter, +2 summer) as an instant. */
function zurich(y: number, mo: number, d: number, h: number, mi: number, s: number, off: number) {
  return Date.UTC(y, mo - 1, d, h - off, mi, s);
}

Deno.test("parseSyslogRecord() reads the plugin's lines in both formats and passes others over", () => {
  const rfc = parseSyslogRecord(
    "2026-11-25T00:07:53.933242+01:00 vm mysql-server_auditing:  vm,root,localhost,3,0,CONNECT,,,0",
    IDENT,
  )!;
  assertEquals(
    [rfc.timestamp, rfc.serverHost, rfc.user, rfc.host, rfc.connectionId, rfc.operation],
    ["2026-11-25T00:07:53.933242+01:00", "vm", "root", "localhost", "3", "CONNECT"],
  );
  const trad = parseSyslogRecord(
    "Dec  1 20:46:29 vm mysql-server_auditing:  vm,,,13,0,CHANGEUSER,OOOO,,0",
    IDENT,
  )!;
  assertEquals([trad.timestamp, trad.user, trad.operation], ["Dec  1 20:46:29", "", "CHANGEUSER"]);
  // A [pid] in the tag, a server_audit_syslog_info before the fields, a user with a comma.
  const info = parseSyslogRecord(
    "Dec  1 20:46:29 db1 mysql-server_auditing[812]: prod-eu vm,a,b,10.0.0.5:5122,9,0,FAILED_CONNECT,,,1045",
    IDENT,
  )!;
  assertEquals([info.user, info.host, info.retcode], ["a,b", "10.0.0.5", "1045"]);
  // Other programs, even with lines that look like audit events: passed over, not malformed.
  for (
    const other of [
      "Dec  1 20:46:32 vm other:  vm,mallory,127.0.0.1,99,0,CONNECT,,,0",
      "Dec  1 20:46:28 vm mysqld: vm,mallory,127.0.0.1,98,0,CONNECT,,,0",
      "Dec  1 20:46:31 vm cron[4242]: (root) CMD (conntracker)",
    ]
  ) assertEquals(parseSyslogRecord(other, IDENT), null, other);
  // The plugin's ident with something else: malformed.
  for (
    const bad of [
      "Dec  1 20:46:31 vm mysql-server_auditing: not an event",
      "20261124 23:52:28,vm,bob,127.0.0.1,8,0,CONNECT,,,0",
      "",
    ]
  ) assertEquals(parseSyslogRecord(bad, IDENT), undefined, bad);
  // Another ident configured (SyslogIdent): the default's lines are another program's.
  assertEquals(
    parseSyslogRecord("Dec  1 20:46:29 vm mysql-server_auditing:  vm,a,h,1,0,CONNECT,,,0", "audit"),
    null,
  );
});

Deno.test("syslogWall() reads RFC 3339 exactly and gives the traditional form the file's year", () => {
  const rfc = syslogWall("2026-11-25T00:07:53.933242+01:00", { zone: ZURICH, mtimeMs: 0 })!;
  assertEquals([rfc.year, rfc.hour, rfc.millisecond, rfc.offsetSeconds], [2026, 0, 933, 3600]);
  // Z, no fraction, another offset: each exact.
  const instant = (text: string) => {
    const w = syslogWall(text, { zone: ZURICH, mtimeMs: 0 })!;
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.millisecond) -
      w.offsetSeconds! * 1000;
  };
  assertEquals(instant("2026-12-01T18:19:49.861790Z"), Date.UTC(2026, 11, 1, 18, 19, 49, 861));
  assertEquals(instant("2026-12-01T18:19:49+00:00"), Date.UTC(2026, 11, 1, 18, 19, 49));
  assertEquals(instant("2026-12-01T23:49:49.8+05:30"), Date.UTC(2026, 11, 1, 18, 19, 49, 800));
  // Across New Year: the file was last written at 00:00:05 on 1 January 2027 in Zurich.
  const mtimeMs = zurich(2027, 1, 1, 0, 0, 5, 1);
  const year = (text: string) => syslogWall(text, { zone: ZURICH, mtimeMs })?.year;
  assertEquals(year("Dec 31 23:59:59"), 2026);
  assertEquals(year("Jan  1 00:00:01"), 2027);
  assertEquals(year("Nov  3 10:00:00"), 2026);
  // A day's slack for a clock ahead of the file's time; later than that is the year before.
  assertEquals(year("Jan  1 23:00:00"), 2027);
  assertEquals(year("Jan  3 00:00:00"), 2026);
  // 29 February: back to a leap year.
  assertEquals(year("Feb 29 12:00:00"), 2024);
  for (
    const bad of ["Foo  1 00:00:00", "Dec 32 00:00:00", "Dec  1 24:00:00", "2026-11-25T00:07:53"]
  ) {
    assertEquals(syslogWall(bad, { zone: ZURICH, mtimeMs }), undefined, bad);
  }
});

Deno.test("traditional timestamps: wall time in TimeLocation, across New Year and both DST changes", () => {
  const instants = (mtimeMs: number, texts: string[]) => {
    const clock = createLogClock(timestampReader(SYSLOG, { zone: ZURICH, mtimeMs }), ZURICH);
    return texts.map((t) => clockInstant(clock, t));
  };
  assertEquals(
    instants(zurich(2027, 1, 1, 0, 10, 0, 1), ["Dec 31 23:59:59", "Jan  1 00:00:01"]),
    [zurich(2026, 12, 31, 23, 59, 59, 1), zurich(2027, 1, 1, 0, 0, 1, 1)],
  );
  // Autumn (25 October 2026, 03:00 CEST -> 02:00 CET): log order tells the second pass.
  assertEquals(
    instants(zurich(2026, 10, 25, 4, 0, 0, 1), [
      "Oct 25 01:59:00",
      "Oct 25 02:30:00",
      "Oct 25 02:59:00",
      "Oct 25 02:10:00",
      "Oct 25 03:00:00",
    ]),
    [
      zurich(2026, 10, 25, 1, 59, 0, 2),
      zurich(2026, 10, 25, 2, 30, 0, 2),
      zurich(2026, 10, 25, 2, 59, 0, 2),
      zurich(2026, 10, 25, 2, 10, 0, 1),
      zurich(2026, 10, 25, 3, 0, 0, 1),
    ],
  );
  // Spring (29 March 2026, 02:00 CET -> 03:00 CEST): 02:30 never occurred, read as 03:30.
  assertEquals(
    instants(zurich(2026, 3, 29, 5, 0, 0, 2), [
      "Mar 29 01:59:59",
      "Mar 29 02:30:00",
      "Mar 29 03:00:00",
    ]),
    [
      zurich(2026, 3, 29, 1, 59, 59, 1),
      zurich(2026, 3, 29, 3, 30, 0, 2),
      zurich(2026, 3, 29, 3, 0, 0, 2),
    ],
  );
});

Deno.test("formatOfFile() tells each file's form by its first line, as AuditFormat allows", () => {
  const head = (text: string) => ({ gzip: false, bytes: encode(text), longFirstLine: false });
  const plugin = head("20261124 23:52:24,vm,root,localhost,3,0,CONNECT,,,0\n");
  const rfc = head("2026-12-01T20:46:27.777397+01:00 vm other: hello\n");
  const trad = head("Dec  1 20:46:27 vm systemd[1]: Started x.\n");
  const errorLog = head("2026-11-25  0:07:53 0 [Note] Starting MariaDB 10.11.19\n");
  const binary = { gzip: false, bytes: new Uint8Array([0, 1, 2, 10]), longFirstLine: false };
  const timestamp = FILE.timestamp;
  const auto = formatChoice({ auditFormat: "auto", timestamp, syslogIdent: IDENT });
  assertEquals(formatOfFile(plugin, auto)?.syslogIdent, undefined);
  assert(formatOfFile(plugin, auto));
  assertEquals(formatOfFile(rfc, auto)?.syslogIdent, IDENT);
  assertEquals(formatOfFile(trad, auto)?.syslogIdent, IDENT);
  assertEquals(formatOfFile(errorLog, auto), undefined);
  assertEquals(formatOfFile(binary, auto), undefined);
  const file = formatChoice({ auditFormat: "file", timestamp, syslogIdent: IDENT });
  assertEquals([formatOfFile(rfc, file), formatOfFile(trad, file)], [undefined, undefined]);
  const syslog = formatChoice({ auditFormat: "syslog", timestamp, syslogIdent: IDENT });
  assertEquals(formatOfFile(plugin, syslog), undefined);
  // lineTimestamp() reads either form's timestamp (a syslog line's of any program).
  assertEquals(lineTimestamp("Dec  1 20:46:27 vm other: x", SYSLOG), "Dec  1 20:46:27");
  assertEquals(
    lineTimestamp("20261124 23:52:24,vm,root,localhost,3,0,CONNECT,,,0", FILE),
    "20261124 23:52:24",
  );
});

/** The real capture's manifest: each format's files (with their times) and the attempts. */
const CAPTURE: {
  files_oldest_first: Record<string, { name: string; mtime_ms: number }[]>;
  attempts: Attempt[];
} = JSON.parse(Deno.readTextFileSync(join(FIXTURES, SYSLOG_CAPTURE, "manifest.json")));

/** Copies a format's captured files with the modification times they had. */
async function copyCaptured(format: string, to: string, names?: string[]): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for (const { name, mtime_ms } of CAPTURE.files_oldest_first[format]) {
    if (names && !names.includes(name)) continue;
    await Deno.copyFile(join(FIXTURES, SYSLOG_CAPTURE, format, name), join(to, name));
    await Deno.utime(join(to, name), new Date(mtime_ms), new Date(mtime_ms));
  }
}

/** The e2e (file-mode) capture of the same scenario: its files, oldest first. */
const E2E: { files_oldest_first: string[]; attempts: Attempt[] } = JSON.parse(
  Deno.readTextFileSync(join(FIXTURES, "mariadb-10.11-e2e", "manifest.json")),
);

for (const format of ["rfc3339", "traditional"]) {
  Deno.test(`capture (${format}): rsyslog's files give what the scenario did, as the file-mode capture`, async () => {
    await withTempDir(async (dir) => {
      await copyCaptured(format, join(dir, "logs"));
      const config = await writeConfig(dir, { AuditLogPath: join(dir, "logs") });
      const run = await runCli(["--config", config]);
      assertEquals([run.code, run.stdout, run.stderr], [0, "", ""]);
      const db = join(dir, "audit.sqlite");
      // rsyslog stamps a line when it receives it: up to a second after the attempt ends.
      const late = CAPTURE.attempts.map((a) => ({ ...a, after: a.after + 1000 }));
      await compareActivity(db, late);
      // Other programs' lines (some like audit events) are neither counted nor malformed.
      assertEquals(await sqlite3(db, "SELECT malformed FROM runs"), [["0"]]);
      // The file-mode capture of the same scenario: the same accounts and counts.
      await Deno.mkdir(join(dir, "e2e"));
      await copyAuditFiles("mariadb-10.11-e2e", E2E.files_oldest_first, join(dir, "e2e"));
      const e2e = await writeConfig(join(dir, "e2e"), { AuditLogPath: join(dir, "e2e") });
      assertEquals((await runCli(["--config", e2e])).code, 0);
      assertEquals(
        await countsByAccount(db),
        await countsByAccount(join(dir, "e2e", "audit.sqlite")),
      );
    });
  });
}

Deno.test("capture: both formats give the same last times (RFC 3339 to the second)", async () => {
  await withTempDir(async (dir) => {
    const seen: Record<string, [string, number, number][]> = {};
    for (const format of ["rfc3339", "traditional"]) {
      await copyCaptured(format, join(dir, format));
      const config = await writeConfig(join(dir, format), { AuditLogPath: join(dir, format) });
      assertEquals((await runCli(["--config", config])).code, 0);
      const got = await activity(join(dir, format, "audit.sqlite"));
      const second = (ms?: number) => ms === undefined ? -1 : Math.floor(ms / 1000);
      seen[format] = [...got].map(([k, c]) => [k, second(c.lastLogin), second(c.lastFailed)]);
    }
    assertEquals(seen.rfc3339, seen.traditional);
  });
});

/** Gzip or not, as the name says. */
async function contentOf(path: string): Promise<Uint8Array> {
  const bytes = await Deno.readFile(path);
  return path.endsWith(".gz") ? gunzipSync(bytes) : bytes;
}

Deno.test("capture: read run by run across logrotate's rotations, nothing lost or counted twice", async () => {
  await withTempDir(async (dir) => {
    for (const [format, method] of [["rfc3339", "create"], ["traditional", "copytruncate"]]) {
      const logs = join(dir, format);
      await Deno.mkdir(logs);
      const config = await writeConfig(logs, { AuditLogPath: logs });
      const files = CAPTURE.files_oldest_first[format];
      const contents = await Promise.all(
        files.map((f) => contentOf(join(FIXTURES, SYSLOG_CAPTURE, format, f.name))),
      );
      const at = (path: string, i: number) =>
        Deno.utime(path, new Date(files[i].mtime_ms), new Date(files[i].mtime_ms));
      const live = join(logs, "syslog");
      // Replays the history: each content was the live file until logrotate rotated it.
      for (const [i, content] of contents.entries()) {
        if (i > 0) {
          const one = join(logs, "syslog.1");
          const exists = await Deno.stat(one).then(() => true, () => false);
          if (method === "create") {
            if (exists) {
              await Deno.writeFile(join(logs, "syslog.2.gz"), gzipSync(await Deno.readFile(one)));
              await at(join(logs, "syslog.2.gz"), i - 2);
              await Deno.remove(one);
            }
            await Deno.rename(live, one);
          } else {
            if (exists) await Deno.rename(one, join(logs, "syslog.2"));
            await Deno.copyFile(live, one);
            await at(one, i - 1);
          }
        }
        // copytruncate writes the live file in place (its inode stays), create makes a new one.
        await Deno.writeFile(live, content);
        await at(live, i);
        const out = await runCli(["--config", config]);
        assertEquals([out.code, out.stderr], [0, ""], `${format} run ${i}`);
      }
      const names = (await Array.fromAsync(Deno.readDir(logs))).map((e) => e.name)
        .filter((n) => n.startsWith("syslog")).sort();
      assertEquals(names, files.map((f) => f.name).sort());
      const late = CAPTURE.attempts.map((a) => ({ ...a, after: a.after + 1000 }));
      await compareActivity(join(logs, "audit.sqlite"), late);
    }
  });
});

Deno.test("mixed directory: the plugin's own files and a syslog file side by side, each in its form", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    // The server logged to its own files first, then (an hour later) to syslog.
    const firstMtime = CAPTURE.files_oldest_first.rfc3339[0].mtime_ms - 3_600_000;
    await copyAuditFiles("mariadb-10.11-e2e", E2E.files_oldest_first, logs, firstMtime);
    await copyCaptured("traditional", logs);
    const config = await writeConfig(dir, { AuditLogPath: logs, LogLevel: "INFO" });
    const run = await runCli(["--config", config]);
    assertEquals(run.code, 0, run.stderr);
    const files = E2E.files_oldest_first.length + CAPTURE.files_oldest_first.traditional.length;
    assert(run.stderr.includes(` files=${files} `), run.stderr);
    const late = CAPTURE.attempts.map((a) => ({ ...a, after: a.after + 1000 }));
    await compareActivity(join(dir, "audit.sqlite"), [...E2E.attempts, ...late]);
    // AuditFormat = file leaves the syslog files alone, syslog the plugin's.
    for (const [auditFormat, attempts] of [["file", E2E.attempts], ["syslog", late]] as const) {
      const one = join(dir, auditFormat);
      await Deno.mkdir(one);
      const c = await writeConfig(one, { AuditLogPath: logs, AuditFormat: auditFormat });
      assertEquals((await runCli(["--config", c])).code, 0);
      await compareActivity(join(one, "audit.sqlite"), attempts);
    }
  });
});

Deno.test("the first syslog fixture: rsyslog's lines of the 10.11 capture give its expected block", async () => {
  const dir = join(FIXTURES, "mariadb-10.11-syslog");
  const manifest = JSON.parse(Deno.readTextFileSync(join(dir, "manifest.json")));
  const expected: Record<string, { logins: number; failed: number; last_login?: string }> =
    manifest.expected;
  for (const file of manifest.files_oldest_first as string[]) {
    await withTempDir(async (tmp) => {
      await Deno.mkdir(join(tmp, "logs"));
      const target = join(tmp, "logs", file);
      await Deno.copyFile(join(dir, file), target);
      // It was captured on 25 November 2026, and written that day.
      const mtime = new Date(zurich(2026, 11, 25, 0, 10, 0, 1));
      await Deno.utime(target, mtime, mtime);
      const config = await writeConfig(tmp, { AuditLogPath: join(tmp, "logs") });
      assertEquals((await runCli(["--config", config])).code, 0);
      const got = await activity(join(tmp, "audit.sqlite"));
      for (const [key, e] of Object.entries(expected)) {
        const g = got.get(key);
        assertEquals([g?.logins ?? 0, g?.failed ?? 0], [e.logins, e.failed], `${file} ${key}`);
        if (e.last_login) {
          const [, d, h, m, s] = /^2026112(\d) (\d\d):(\d\d):(\d\d)$/.exec(e.last_login)!.map(
            Number,
          );
          const at = zurich(2026, 11, 20 + d, h, m, s, 1);
          assert(
            g!.lastLogin! >= at && g!.lastLogin! < at + 1000,
            `${file} ${key} ${g!.lastLogin}`,
          );
        }
      }
    });
  }
});

Deno.test("syslog files: partial last line, bad lines, gzip and a loss, as for the plugin's files", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    const file = join(logs, "syslog");
    const line = (t: string, user: string, id: number) =>
      `Dec  1 ${t} vm mysql-server_auditing:  vm,${user},localhost,${id},0,CONNECT,,,0\n`;
    // Each write a minute after the one before, on 1 December 2026 in Zurich.
    let minutes = 0;
    const write = async (path: string, text: string | Uint8Array, append = false) => {
      await Deno.writeFile(path, typeof text === "string" ? encode(text) : text, { append });
      const mtime = new Date(zurich(2026, 12, 1, 12, minutes++, 0, 1));
      await Deno.utime(path, mtime, mtime);
    };
    const first = line("10:00:00", "ann", 1);
    const second = line("10:00:01", "bob", 2);
    await write(file, first + "Dec  1 10:00:00 vm mysql-server_auditing:  vm,1,2,CONNECT,x\n");
    await write(file, second.slice(0, 40), true);
    const config = await writeConfig(dir, { AuditLogPath: logs });
    assertEquals((await runCli(["--config", config])).code, 0);
    const db = join(dir, "audit.sqlite");
    assertEquals([...(await activity(db)).keys()], ["ann@localhost"]);
    await write(file, second.slice(40) + line("10:00:02", "cy", 3).slice(0, 10), true);
    assertEquals((await runCli(["--config", config])).code, 0);
    assertEquals(await countsByAccount(db), [["ann@localhost", 1, 0], ["bob@localhost", 1, 0]]);
    assertEquals(await sqlite3(db, "SELECT sum(malformed) FROM runs"), [["1"]]);
    // Renamed and compressed: read on where it stopped.
    const rest = line("10:00:02", "cy", 3).slice(10);
    await write(file, rest, true);
    const all = await Deno.readFile(file);
    await Deno.remove(file);
    await write(join(logs, "syslog.1.gz"), gzipSync(all));
    await write(file, line("10:00:03", "dee", 4));
    assertEquals((await runCli(["--config", config])).code, 0);
    assertEquals((await countsByAccount(db)).map(([k, l]) => [k, l]), [
      ["ann@localhost", 1],
      ["bob@localhost", 1],
      ["cy@localhost", 1],
      ["dee@localhost", 1],
    ]);
    // A file gone with a partial line unread (rotated away before it was finished): a loss.
    await write(file, line("10:00:04", "eli", 5).slice(0, 30), true);
    assertEquals((await runCli(["--config", config])).code, 0);
    await Deno.remove(file);
    await write(join(logs, "syslog.2"), "Dec  1 10:00:05 vm other: x\n");
    const lost = await runCli(["--config", config]);
    assertEquals(lost.code, 3, lost.stderr);
    assert(lost.stderr.includes(file), lost.stderr);
    assertEquals(await sqlite3(db, "SELECT path, unread_bytes FROM losses"), [[file, "30"]]);
  });
});

real(
  "rsyslogd and logrotate: a real server's syslog, rotated between runs (create + HUP, copytruncate)",
  ["mariadb", "rsyslog", "logrotate"],
  async () => {
    await withRsyslog({ timeZone: "Europe/Zurich" }, async (r) => {
      await withTempDir(async (ns) => {
        const wrap = await devLogWrap(r.socket, ns);
        await withMariaDb({ events: "CONNECT", outputType: "syslog", wrap }, async (server) => {
          await rootSql(server, "CREATE USER 'app'@'%' IDENTIFIED BY 'pw-app';");
          const attempts: Attempt[] = [];
          const configs = await Promise.all(
            (["rfc3339", "traditional"] as const).map(async (format) => {
              const dir = join(ns, format);
              await Deno.mkdir(dir);
              return await writeConfig(dir, { AuditLogPath: join(r.dir, format) });
            }),
          );
          let marks = 0;
          // Runs conntracker on both formats once rsyslogd has written all before a mark.
          const runs = async () => {
            const mark = `mark ${++marks}`;
            await logger(r.socket, "other", mark);
            for (const f of Object.values(r.files)) {
              await waitForLines(f!, (ls) => ls.some((l) => l.endsWith(`other: ${mark}`)));
            }
            for (const c of configs) {
              const out = await runCli(["--config", c]);
              assertEquals([out.code, out.stderr], [0, ""]);
            }
          };
          // Debian's rotation of rsyslog's file, and copytruncate for the other format.
          const rotateBoth = async () => {
            await logrotate(r, r.files.rfc3339!, {
              method: "create",
              compress: true,
              delaycompress: true,
            });
            await logrotate(r, r.files.traditional!, { method: "copytruncate" });
          };
          await login(server, attempts, "app", "pw-app", "socket");
          await login(server, attempts, "nobody", "x", "tcp");
          await runs();
          await rotateBoth();
          await login(server, attempts, "app", "pw-app", "tcp");
          await runs();
          await rotateBoth();
          await login(server, attempts, "nobody", "y", "socket");
          await runs();
          // rsyslog stamps a line when it receives it: after the attempt, on a busy machine.
          const late = attempts.map((a) => ({ ...a, after: a.after + 2000 }));
          for (const c of configs) await compareActivity(join(c, "..", "audit.sqlite"), late);
        });
      });
    });
  },
);

Deno.test("capture: Workers on small ranges of syslog files give what one thread gives", async () => {
  await withTempDir(async (dir) => {
    for (const format of ["rfc3339", "traditional"]) {
      const dumps: string[][][] = [];
      for (const [workers, rangeBytes] of [["1", 1 << 20], ["4", 300]] as const) {
        const logs = join(dir, `${format}-${workers}`);
        await copyCaptured(format, logs);
        const config = await writeConfig(logs, { AuditLogPath: logs, MaxWorkers: workers });
        const warnings: string[] = [];
        const log = createLogger("WARN", (l) => warnings.push(l));
        const tuning = { parallelBytes: 0, rangeBytes, cores: 4 };
        await runTracking({ config: await loadConfig(config), log, tuning });
        assertEquals(warnings, []);
        const db = join(logs, "audit.sqlite");
        dumps.push(await sqlite3(db, "SELECT * FROM activity ORDER BY name, host;"));
        const late = CAPTURE.attempts.map((a) => ({ ...a, after: a.after + 1000 }));
        await compareActivity(db, late);
      }
      assertEquals(dumps[1], dumps[0], format);
    }
  });
});

Deno.test("config: AuditFormat, AuditSource and the journal keys are checked, naming the key", () => {
  const parse = (text: string) => parseConfig("c.ini", text);
  const config = parse("");
  assertEquals(
    [config.auditFormat, config.syslogIdent, config.auditSource, config.journalctl],
    ["auto", IDENT, "files", "journalctl"],
  );
  assertEquals(parse("AuditFormat = Syslog\n").auditFormat, "syslog");
  for (
    const [text, key] of [
      ["AuditFormat = rsyslog\n", "AuditFormat"],
      ["AuditSource = journald\n", "AuditSource"],
      ["SyslogIdent =\n", "SyslogIdent"],
      ["JournalFile = /a.journal\nJournalDirectory = /var/log/journal\n", "JournalDirectory"],
    ]
  ) {
    assertThrows(() => parse(text), (e: unknown) => e instanceof ConfigError && e.key === key);
  }
});

Deno.test("pluginFindings(): a server logging to syslog against AuditFormat, AuditSource and SyslogIdent", () => {
  const settings = {
    logging: true,
    events: ["CONNECT"],
    outputType: "syslog",
    filePath: "/var/lib/mysql/server_audit.log",
    rotateSize: 1_000_000,
    rotations: 9,
    queryLogLimit: 1024,
  };
  const findings = (ini: string, s: Partial<typeof settings & { syslogIdent: string }> = {}) =>
    pluginFindings({
      settings: { ...settings, ...s },
      config: parseConfig("c.ini", ini),
      listed: [],
    }).filter((f) => f.severity === "error").map((f) => f.message);
  assertEquals(findings(""), []);
  assertEquals(findings("AuditSource = journal\n"), []);
  assert(findings("AuditFormat = file\n")[0].includes("AuditFormat = file passes syslog files"));
  assert(
    findings("", { syslogIdent: "audit" })[0].includes("SyslogIdent is mysql-server_auditing"),
  );
  assertEquals(findings("SyslogIdent = audit\n", { syslogIdent: "audit" }), []);
  assert(
    findings("AuditSource = journal\n", { outputType: "file" })[0]
      .includes("server_audit_output_type = file"),
  );
});
