import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { gzipSync } from "node:zlib";
import { loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { runTracking } from "../lib/track/run.ts";
import { runCli, sqlite3, withTempDir, writeConfig } from "./helpers.ts";

const MINUTE = 60_000;
/** The clock of the first run of each test (the logs below are of that morning, UTC). */
const T0 = Date.UTC(2026, 10, 30, 10, 0, 5);
const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "+00:00");

/** Runs conntracker in this process with its clock at `at`; returns its errors. */
async function runAt(config: string, at: number): Promise<number> {
  const log = createLogger("ERROR", () => {});
  const summary = await runTracking({ config: await loadConfig(config), log, now: () => at });
  return summary.errors.length;
}

/** Writes an audit file with a modification time a second after its last event. */
async function writeLog(path: string, text: string, lastEvent: string, append = false) {
  await Deno.writeTextFile(path, text, { append });
  const at = new Date(Date.parse(lastEvent) + 1000);
  await Deno.utime(path, at, at);
}

/** `report --format json` at `now` over the accounts given; each row's status and reason. */
async function report(
  dir: string,
  config: string,
  now: number,
  accounts: string[],
): Promise<{ doc: Record<string, unknown>; rows: Record<string, [string, string]> }> {
  const list = join(dir, "accounts.tsv");
  await Deno.writeTextFile(list, accounts.map((a) => `${a}\t%\n`).join(""));
  const r = await runCli([
    "--config",
    config,
    "report",
    "--accounts",
    list,
    "--format",
    "json",
    "--now",
    new Date(now).toISOString(),
  ]);
  assertEquals([r.code, r.stderr], [0, ""]);
  const doc = JSON.parse(r.stdout);
  const rows = Object.fromEntries(
    doc.accounts.map((a: Record<string, string>) => [a.name, [a.status, a.reason]]),
  );
  return { doc, rows };
}

Deno.test("report: runs that found no audit file (an AuditLogFile typo) do not count as reading it", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    const log = join(logs, "server_audit.log");
    const keys = { AuditLogPath: logs, TimeLocation: "UTC" };
    // The ledger: app logs in, a run reads it; newapp logs in; the ini gets a typo and two runs
    // (2 h later, every 5 min) read nothing; the report comes 5 min after the last of them.
    await writeLog(
      log,
      "20261130 10:00:00,db1,app,10.0.0.1,6,0,CONNECT,,,0\n",
      "2026-11-30T10:00:00Z",
    );
    const good = await writeConfig(dir, { ...keys, AuditLogFile: "server_audit.log" });
    assertEquals(await runAt(good, T0), 0);
    await writeLog(
      log,
      "20261130 10:30:00,db1,newapp,10.0.0.1,7,0,CONNECT,,,0\n",
      "2026-11-30T10:30:00Z",
      true,
    );
    const typo = await writeConfig(dir, { ...keys, AuditLogFile: "server_adit.log" });
    assertEquals(await runAt(typo, T0 + 120 * MINUTE), 0);
    assertEquals(await runAt(typo, T0 + 125 * MINUTE), 0);
    const db = join(dir, "audit.sqlite");
    assertEquals(await sqlite3(db, "SELECT audit_files FROM runs ORDER BY started_ms;"), [
      ["1"],
      ["0"],
      ["0"],
    ]);
    const accounts = ["app", "newapp", "never"];
    let { doc, rows } = await report(dir, typo, T0 + 130 * MINUTE, accounts);
    assertEquals(doc.read_until, iso(T0));
    assertEquals(rows.app[0], "used");
    const stale = "the audit log was last read successfully at 2026-11-30T10:00:05+00:00, over " +
      "an hour before 2026-11-30T12:10:05+00:00; since then 2 runs found no audit file: later " +
      "logins are not read yet";
    // newapp logged in: never-seen would be the costliest mistake.
    assertEquals(rows.newapp, ["unknown", stale]);
    assertEquals(rows.never, ["unknown", stale]);
    // The typo fixed: its login is read, and the time the runs read nothing stays in doubt.
    await writeConfig(dir, { ...keys, AuditLogFile: "server_audit.log" });
    assertEquals(await runAt(good, T0 + 135 * MINUTE), 0);
    ({ doc, rows } = await report(dir, good, T0 + 140 * MINUTE, accounts));
    assertEquals(rows.newapp[0], "used");
    assertEquals(rows.never, [
      "unknown",
      "the audit log was not read successfully between 2026-11-30T10:00:05+00:00 and " +
      "2026-11-30T12:15:05+00:00 (2 runs found no audit file): logins of that time may have " +
      "been rotated away unread",
    ]);
  });
});

Deno.test("report: logins in a file that cannot be read (a corrupt gzip) leave accounts unknown", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    // The ledger: a rotated file of 3000 app logins and, last, the only login of rare, compressed
    // and cut in half (its second half, rare's login in it, can never be read); then the live file.
    const lines = Array.from(
      { length: 3000 },
      (_, i) =>
        `20261130 09:${String(Math.floor(i / 60)).padStart(2, "0")}:${
          String(i % 60).padStart(2, "0")
        },db1,app,10.0.0.1,${100 + i},0,CONNECT,,,0\n`,
    ).join("") + "20261130 09:59:59,db1,rare,10.0.0.2,9999,0,CONNECT,,,0\n";
    const gz = gzipSync(new TextEncoder().encode(lines), { level: 1 });
    const rotated = join(logs, "server_audit.log.1.gz");
    await Deno.writeFile(rotated, gz.subarray(0, Math.floor(gz.length / 2)));
    await Deno.utime(rotated, new Date("2026-11-30T10:00:00Z"), new Date("2026-11-30T10:00:00Z"));
    await writeLog(
      join(logs, "server_audit.log"),
      "20261130 10:00:00,db1,app,10.0.0.1,5000,0,CONNECT,,,0\n",
      "2026-11-30T10:00:00Z",
    );
    const config = await writeConfig(dir, { AuditLogPath: logs, TimeLocation: "UTC" });
    assertEquals(await runAt(config, T0), 1);
    const db = join(dir, "audit.sqlite");
    assertEquals(await sqlite3(db, "SELECT count(*) FROM activity WHERE name = 'rare';"), [["0"]]);
    let { doc, rows } = await report(dir, config, T0 + 10 * MINUTE, ["app", "rare"]);
    assertEquals(doc.read_until, null);
    assertEquals(rows.app[0], "used");
    assertEquals(rows.rare, [
      "unknown",
      "no run has read the audit log successfully yet (1 run could not read 1 file)",
    ]);
    // The DBA removes the broken file: the next run reads every file, rare's login stays unread.
    await Deno.remove(rotated);
    assertEquals(await runAt(config, T0 + 20 * MINUTE), 0);
    ({ doc, rows } = await report(dir, config, T0 + 30 * MINUTE, ["app", "rare"]));
    assertEquals(doc.read_until, iso(T0 + 20 * MINUTE));
    assertEquals(rows.rare[0], "unknown");
    assert(
      rows.rare[1].includes(
        "the audit log was not read successfully before 2026-11-30T10:20:05+00:00 (1 run could " +
          "not read 1 file)",
      ),
      rows.rare[1],
    );
  });
});

Deno.test("report: sign-ins no account could be given are counted in the header and leave accounts unknown", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    // The ledger: app logs in; a change-user on connection 14 whose connection ends naming nobody;
    // a CONNECT of bob on a day that does not exist (its timestamp cannot be read).
    await writeLog(
      join(logs, "server_audit.log"),
      "20261130 10:00:00,db1,app,10.0.0.1,6,0,CONNECT,,,0\n" +
        "20261130 10:00:01,db1,,,14,0,CHANGEUSER,,,0\n" +
        "20261130 10:00:02,db1,,,14,0,DISCONNECT,,,0\n" +
        "20261131 10:00:03,db1,bob,10.0.0.2,15,0,CONNECT,,,0\n",
      "2026-11-30T10:00:03Z",
    );
    const config = await writeConfig(dir, { AuditLogPath: logs, TimeLocation: "UTC" });
    assertEquals(await runAt(config, T0), 0);
    const db = join(dir, "audit.sqlite");
    assertEquals(await sqlite3(db, "SELECT change_users_dropped, bad_timestamps FROM runs;"), [
      ["1", "1"],
    ]);
    const { doc, rows } = await report(dir, config, T0 + MINUTE, ["app", "bob"]);
    assertEquals(doc.unattributed_sign_ins, { change_users: 1, bad_timestamps: 1 });
    assertEquals(rows.app[0], "used");
    assertEquals(rows.bob, [
      "unknown",
      "2 sign-ins no account could be given (1 change-user whose account no line named, 1 with " +
      "a timestamp that cannot be read), read by the run of 2026-11-30T10:00:05+00:00: any " +
      "account may have logged in",
    ]);
  });
});

Deno.test("migration 4: runs of a no-audit-log notice still holding found no audit file", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    await writeLog(
      join(logs, "server_audit.log"),
      "20261130 10:00:00,db1,app,10.0.0.1,6,0,CONNECT,,,0\n",
      "2026-11-30T10:00:00Z",
    );
    const keys = { AuditLogPath: logs, TimeLocation: "UTC" };
    const good = await writeConfig(dir, { ...keys, AuditLogFile: "server_audit.log" });
    assertEquals(await runAt(good, T0), 0);
    const typo = await writeConfig(dir, { ...keys, AuditLogFile: "server_adit.log" });
    assertEquals(await runAt(typo, T0 + 120 * MINUTE), 0);
    // The database as schema 3 left it: no per-run audit files (the notice is what it kept),
    // nor what migration 5 adds for the push.
    const db = join(dir, "audit.sqlite");
    const d = new DatabaseSync(db);
    d.exec(`DROP INDEX activity_by_change;
      DROP INDEX proxy_logins_by_change;
      ALTER TABLE activity DROP COLUMN change_seq;
      ALTER TABLE proxy_logins DROP COLUMN change_seq;
      ALTER TABLE losses DROP COLUMN change_seq;
      DROP TABLE push_state;
      ALTER TABLE runs DROP COLUMN audit_files;
      ALTER TABLE runs DROP COLUMN change_users_dropped;
      ALTER TABLE runs DROP COLUMN bad_timestamps;
      PRAGMA user_version = 3;`);
    d.close();
    // A report before a run upgrades it reads the notice's runs as migration 4 will.
    let { rows } = await report(dir, typo, T0 + 130 * MINUTE, ["never"]);
    assert(rows.never[1].includes("; since then 1 run found no audit file"), rows.never[1]);
    assertEquals(await runAt(typo, T0 + 125 * MINUTE), 0);
    const sql = "SELECT coalesce(audit_files, 'not known') FROM runs ORDER BY started_ms;";
    assertEquals(await sqlite3(db, sql), [
      ["not known"],
      ["0"],
      ["0"],
    ]);
    ({ rows } = await report(dir, typo, T0 + 130 * MINUTE, ["never"]));
    assert(rows.never[1].includes("; since then 2 runs found no audit file"), rows.never[1]);
  });
});
