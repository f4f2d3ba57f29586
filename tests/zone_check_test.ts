/**
 * The time-zone check, end to end: audit files as a server in a known zone
 * wrote them (their mtimes set to the write, as a real write sets them), the
 * CLI run as cron runs it with `TZ` for the machine's zone, and a real
 * MariaDB server running with `TZ=UTC` while the ini says `Europe/Zurich`.
 * The oracle is the zone each test wrote in.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { countsByAccount, runCli, withTempDir, writeConfig } from "./helpers.ts";
import { HAVE_MARIADB, login, rootSql, withMariaDb } from "./mariadb.ts";
import { referenceCounts } from "./reference.ts";

const CI = Boolean(Deno.env.get("CI"));

/** `20261125 10:00:00` for an instant, in a fixed offset (minutes east): the test's arithmetic. */
function stamp(ms: number, offsetMinutes: number): string {
  return new Date(ms + offsetMinutes * 60_000).toISOString()
    .replace(/^(\d+)-(\d+)-(\d+)T([\d:]+).*/, "$1$2$3 $4");
}

/**
 * Writes an audit log as a server in `offsetMinutes` wrote it: logins every
 * 10 s ending at `lastMs`, the file's mtime one second after its last line.
 */
async function writeLog(path: string, lastMs: number, offsetMinutes: number): Promise<string> {
  let text = "";
  for (let i = 9; i >= 0; i--) {
    const ts = stamp(lastMs - i * 10_000, offsetMinutes);
    text += `${ts},vm,app${i % 3},10.0.0.${i},${i + 5},0,CONNECT,,,0\n`;
    text += `${ts},vm,app${i % 3},10.0.0.${i},${i + 5},0,DISCONNECT,,,0\n`;
  }
  await Deno.writeTextFile(path, text);
  const written = new Date(lastMs + 1000);
  await Deno.utime(path, written, written);
  return text;
}

const LAST = Date.parse("2026-11-25T10:00:00Z");

Deno.test("zone check: TimeLocation Europe/Zurich on a UTC server is one ERROR line naming the key, UTC and the file; the run is recorded, exit 0", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    const live = join(logs, "server_audit.log");
    const text = await writeLog(live, LAST, 0);
    // Default LogLevel (ERROR): the line must show at it.
    const config = await writeConfig(dir, { AuditLogPath: logs, TimeLocation: "Europe/Zurich" });
    const r = await runCli(["--config", config], { TZ: "UTC" });
    assertEquals([r.code, r.stdout], [0, ""], r.stderr);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, r.stderr);
    assert(lines[0].includes("level=ERROR"), r.stderr);
    assert(lines[0].includes(`puts the audit log's last line 1h before the file was written`));
    assert(lines[0].includes(`this machine's zone \\"UTC\\" fits`), r.stderr);
    assert(
      lines[0].endsWith(` key=TimeLocation value=Europe/Zurich fits=UTC file=${live}`),
      r.stderr,
    );
    assertEquals(await countsByAccount(join(dir, "audit.sqlite")), referenceCounts(text));
    // Once TimeLocation is right (UTC, or Local on this machine), the run is silent.
    for (const zone of ["UTC", "Local"]) {
      const ok = await writeConfig(dir, { AuditLogPath: logs, TimeLocation: zone });
      await Deno.remove(join(dir, "audit.sqlite"));
      const again = await runCli(["--config", ok], { TZ: "UTC" });
      assertEquals([again.code, again.stderr], [0, ""], zone);
    }
  });
});

Deno.test("zone check: silent when the machine's zone does not fit either (the server runs in another zone)", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    const live = join(logs, "server_audit.log");
    // A server at +05:30 (its process has TZ=Asia/Kolkata), conntracker on a machine in Tokyo:
    // `conntracker check` asks the server for its zone; a run does not guess from an mtime.
    await writeLog(live, LAST, 330);
    const config = await writeConfig(dir, { AuditLogPath: logs, TimeLocation: "Local" });
    const r = await runCli(["--config", config], { TZ: "Asia/Tokyo" });
    assertEquals([r.code, r.stderr], [0, ""]);
  });
});

Deno.test("zone check: silent when the zone fits, when only an older file is off, and when the mtime says nothing", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    const config = await writeConfig(dir, { AuditLogPath: logs, TimeLocation: "Europe/Zurich" });
    // Written in Zurich (+01:00 in November), by a server 100 s behind its last write.
    const live = join(logs, "server_audit.log");
    await writeLog(live, LAST, 60);
    const busy = new Date(LAST + 100_000);
    await Deno.utime(live, busy, busy);
    // An older rotated file, copied in without cp -p: its mtime is not its last line's.
    await writeLog(join(logs, "server_audit.log.1"), LAST - 3_600_000, 0);
    const copied = new Date(LAST - 60_000);
    await Deno.utime(join(logs, "server_audit.log.1"), copied, copied);
    let r = await runCli(["--config", config], { TZ: "UTC" });
    assertEquals([r.code, r.stderr], [0, ""]);
    // The live file itself copied three days later (no cp -p): no zone explains its mtime.
    await Deno.remove(join(dir, "audit.sqlite"));
    const later = new Date(LAST + 3 * 86_400_000 + 7 * 60_000 + 41_000);
    await Deno.utime(live, later, later);
    r = await runCli(["--config", config], { TZ: "UTC" });
    assertEquals([r.code, r.stderr], [0, ""]);
  });
});

Deno.test({
  name: "zone check: a real MariaDB server running with TZ=UTC while the ini says Europe/Zurich",
  ignore: !HAVE_MARIADB && !CI,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withTempDir(async (work) => {
      await withMariaDb({ events: "CONNECT", tz: "UTC" }, async (server) => {
        await rootSql(server, "CREATE USER 'app'@'%' IDENTIFIED BY 'pw';");
        const attempts: Parameters<typeof login>[1] = [];
        await login(server, attempts, "app", "pw", "tcp");
        await login(server, attempts, "app", "wrong", "tcp");
        const [[tz]] = await rootSql(server, "SELECT @@system_time_zone");
        assertEquals(tz, "UTC", "the server's own zone");
        const config = await writeConfig(work, {
          AuditLogPath: server.auditLog,
          TimeLocation: "Europe/Zurich",
        });
        const r = await runCli(["--config", config], { TZ: "UTC" });
        assertEquals(r.code, 0, r.stderr);
        const lines = r.stderr.trim().split("\n");
        assertEquals(lines.length, 1, r.stderr);
        assert(lines[0].includes("level=ERROR"), r.stderr);
        assert(
          lines[0].endsWith(
            ` key=TimeLocation value=Europe/Zurich fits=UTC file=${server.auditLog}`,
          ),
          r.stderr,
        );
        // Still recorded: the test's login and failed attempt (beside the harness's root logins).
        const counts = await countsByAccount(join(work, "audit.sqlite"));
        assertEquals(counts.filter(([key]) => key.startsWith("app@")), [["app@127.0.0.1", 1, 1]]);
        // Set right, the next run is silent.
        const right = await writeConfig(work, {
          AuditLogPath: server.auditLog,
          TimeLocation: "UTC",
        });
        await login(server, attempts, "app", "pw", "tcp");
        const again = await runCli(["--config", right], { TZ: "UTC" });
        assertEquals([again.code, again.stderr], [0, ""]);
      });
    });
  },
});
