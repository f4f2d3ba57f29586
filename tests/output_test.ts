/**
 * What a run tells the person or the monitoring watching it: `--json`,
 * `--dry-run`, `-v`/`-q`, the progress bar (under a real pseudo-terminal from
 * util-linux's `script`, and without one), and the `MetricsFile`, parsed
 * back with a real Prometheus text parser.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { createHash } from "node:crypto";
import { join } from "node:path";
import parsePrometheus from "parse-prometheus-text-format";
import type { RunJson } from "../lib/output/json.ts";
import {
  copyAuditFiles,
  FILES_FULL,
  FIXTURES,
  ROOT,
  runCli,
  sqlite3,
  withTempDir,
  writeConfig,
} from "./helpers.ts";
import { referenceCounts } from "./reference.ts";

const FIXTURE = "mariadb-10.11-full";

async function fixtureText(names: string[]): Promise<string> {
  let text = "";
  for (const name of names) text += await Deno.readTextFile(join(FIXTURES, FIXTURE, name));
  return text;
}

/** SHA-256 of each of the database's files, `null` for those absent. */
async function hashes(db: string): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  for (const path of [db, `${db}-wal`, `${db}-shm`, `${db}-journal`]) {
    const bytes = await Deno.readFile(path).catch(() => null);
    out.push(bytes && createHash("sha256").update(bytes).digest("hex"));
  }
  return out;
}

Deno.test("--json: one object on stdout per run, from the run's metrics record", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    await copyAuditFiles(FIXTURE, FILES_FULL, logs);
    await Deno.writeTextFile(join(logs, "notes.txt"), "not an audit log\n");
    const config = await writeConfig(dir, { AuditLogPath: logs });
    const first = await runCli(["--config", config, "--json"]);
    assertEquals([first.code, first.stderr], [0, ""]);
    assertEquals(first.stdout.split("\n").length, 2, "one line and its newline");
    const run = JSON.parse(first.stdout) as RunJson;
    const reference = referenceCounts(await fixtureText(FILES_FULL));
    assertEquals(run.files.read.map((f) => f.path), FILES_FULL.map((n) => join(logs, n)));
    let bytes = 0;
    for (const n of FILES_FULL) bytes += (await Deno.stat(join(logs, n))).size;
    assertEquals(run.bytes_read, bytes);
    assertEquals(run.files.passed_over, [{
      path: join(logs, "notes.txt"),
      reason: "not an audit log",
    }]);
    assertEquals(
      [run.events.logins, run.events.failed],
      [
        reference.reduce((s, [, logins]) => s + logins, 0),
        reference.reduce((s, [, , failed]) => s + failed, 0),
      ],
    );
    const [[accounts]] = await sqlite3(join(dir, "audit.sqlite"), "SELECT count(*) FROM activity");
    assertEquals(run.accounts, { inserted: Number(accounts), updated: 0, total: Number(accounts) });
    const newest = Math.max(
      ...await Promise.all(
        FILES_FULL.map(async (n) => (await Deno.stat(join(logs, n))).mtime!.getTime()),
      ),
    );
    assertEquals(run.watermark, {
      before: null,
      after: new Date(Math.floor(newest / 1000) * 1000).toISOString(),
    });
    assertEquals(run.dry_run, false);
    assertEquals([run.losses, run.errors], [[], []]);

    // One more login of an account already known, and a new one.
    await Deno.writeTextFile(
      join(logs, "server_audit.log"),
      "20261125 10:00:00,vm,root,localhost,900,0,CONNECT,,,0\n" +
        "20261125 10:00:01,vm,fresh,localhost,901,0,CONNECT,,,0\n",
      { append: true },
    );
    const second = JSON.parse((await runCli(["--config", config, "--json"])).stdout) as RunJson;
    assertEquals(second.files.read.map((f) => f.path), [join(logs, "server_audit.log")]);
    assertEquals(second.events.logins, 2);
    assertEquals(second.accounts, {
      inserted: 1,
      updated: 1,
      total: Number(accounts) + 1,
    });
    assertEquals(second.watermark.before, run.watermark.after);
    assertEquals(
      second.files.passed_over.filter((f) => f.reason === "unchanged").length,
      FILES_FULL.length - 1,
    );
  });
});

Deno.test("--dry-run: reads and reports, and leaves the database byte for byte as it was", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    await copyAuditFiles(FIXTURE, FILES_FULL.slice(0, 2), logs);
    const config = await writeConfig(dir, { AuditLogPath: logs });
    const db = join(dir, "audit.sqlite");
    // No database yet: a dry run creates none.
    const none = await runCli(["--config", config, "--dry-run", "--json"]);
    assertEquals(none.code, 0, none.stderr);
    assertEquals(await hashes(db), [null, null, null, null]);
    assertEquals((await runCli(["--config", config])).code, 0);
    await copyAuditFiles(FIXTURE, FILES_FULL, logs);
    const before = await hashes(db);
    const dry = await runCli(["--config", config, "--dry-run", "--json", "-vv"]);
    assertEquals(dry.code, 0, dry.stderr);
    assertEquals(await hashes(db), before);
    const wouldBe = JSON.parse(dry.stdout) as RunJson;
    assertEquals(wouldBe.dry_run, true);
    assert(/msg="run finished" .* dry_run=true$/m.test(dry.stderr), dry.stderr);
    // What the dry run reported is what the real run then does.
    const real = JSON.parse((await runCli(["--config", config, "--json"])).stdout) as RunJson;
    const timeless = (r: RunJson) => ({
      ...r,
      started: "",
      finished: "",
      duration_ms: 0,
      dry_run: false,
    });
    assertEquals(timeless(wouldBe), timeless(real));
    const [[runs]] = await sqlite3(db, "SELECT count(*) FROM runs");
    assertEquals(runs, "2");
  });
});

Deno.test("--dry-run on the old tool's database (rollback journal, Accounts only): not upgraded, not switched to WAL", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    await copyAuditFiles(FIXTURE, FILES_FULL, logs);
    const db = join(dir, "old.sqlite");
    const made = await new Deno.Command("sqlite3", {
      args: [
        db,
        "CREATE TABLE Accounts (name TEXT, host TEXT, last_seen TIMESTAMP, PRIMARY KEY (name, host));" +
        "INSERT INTO Accounts VALUES ('app', '%', '2024-01-01 10:00:00+01:00');",
      ],
    }).output();
    assertEquals(made.code, 0);
    const config = await writeConfig(dir, { AuditLogPath: logs, SqlitePath: db });
    const before = await hashes(db);
    const dry = await runCli(["--config", config, "--dry-run", "--json"]);
    assertEquals(dry.code, 0, dry.stderr);
    assertEquals((JSON.parse(dry.stdout) as RunJson).events.logins > 0, true);
    assertEquals(await hashes(db), before);
    assertEquals(await sqlite3(db, "PRAGMA journal_mode; PRAGMA user_version;"), [["delete"], [
      "0",
    ]]);
  });
});

Deno.test("-v and -q move LogLevel; records are key=value lines with time and level; one INFO summary", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    await copyAuditFiles(FIXTURE, FILES_FULL, logs);
    /** A config with its own database, so that every run reads everything. */
    const fresh = async (name: string, level = "ERROR") => {
      const path = join(dir, `${name}.ini`);
      await Deno.writeTextFile(
        path,
        `AuditLogPath = ${logs}\nSqlitePath = ${join(dir, name)}.sqlite\nLogLevel = ${level}\n`,
      );
      return path;
    };
    const plain = await runCli(["--config", await fresh("plain")]);
    assertEquals([plain.code, plain.stdout, plain.stderr], [0, "", ""]);
    const info = await runCli(["--config", await fresh("info"), "-vv"]);
    const lines = info.stderr.trimEnd().split("\n");
    assertEquals(lines.length, 1, info.stderr);
    assert(
      /^time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=INFO msg="run finished" files=5 bytes=\d+ /
        .test(lines[0]),
      lines[0],
    );
    const debug = await runCli(["--config", await fresh("debug"), "-v", "-v", "-v"]);
    const debugLines = debug.stderr.trimEnd().split("\n");
    assert(
      debugLines.filter((l) => / level=DEBUG msg=read file=/.test(l)).length === 5,
      debug.stderr,
    );
    assertEquals(debugLines.filter((l) => / level=INFO /.test(l)).length, 1, debug.stderr);
    assertEquals((await runCli(["--config", await fresh("loud", "INFO"), "-q"])).stderr, "");
    assertEquals(
      (await runCli(["--config", await fresh("loud2", "INFO")])).stderr.split("\n").length,
      2,
    );
  });
});

/** Writes about `mb` MB of audit lines: long QUERY lines, and a login every 1,000 lines. */
async function bigLog(path: string, mb: number): Promise<void> {
  const query = `20261201 10:00:00,vm,app,localhost,7,1,QUERY,db,'SELECT ${"x".repeat(960)}',0\n`;
  const block = query.repeat(999) + "20261201 10:00:00,vm,app,localhost,7,0,CONNECT,,,0\n";
  const bytes = new TextEncoder().encode(block);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let written = 0; written < mb << 20; written += bytes.length) await file.write(bytes);
  file.close();
}

/** Runs the CLI inside `script`, which gives it a pseudo-terminal, and returns what the terminal showed. */
async function underTerminal(shellCommand: string): Promise<string> {
  const out = await new Deno.Command("script", {
    args: ["-qfec", shellCommand, "/dev/null"],
    stdout: "piped",
    stderr: "piped",
    env: { TERM: "xterm" },
  }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("progress bar: on stderr when it is a terminal and there is much to read; never on stdout or without a terminal", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    await bigLog(join(logs, "server_audit.log"), 66);
    const cli = (db: string) =>
      `${Deno.execPath()} run --allow-all --quiet ${join(ROOT, "main.ts")} --config ` +
      join(dir, `${db}.ini`);
    for (const db of ["tty", "nostderr", "pipe"]) {
      await Deno.writeTextFile(
        join(dir, `${db}.ini`),
        `AuditLogPath = ${logs}\nSqlitePath = ${join(dir, db)}.sqlite\nTimeLocation = UTC\n`,
      );
    }
    const shown = await underTerminal(`${cli("tty")} >/dev/null`);
    assert(/\d+% \| \d+\/6\d MB \| [\d.]+ MB\/s \| files [01]\/1 \| ETA/.test(shown), shown);
    // Only stdout on the terminal: nothing is drawn there.
    assertEquals(await underTerminal(`${cli("nostderr")} 2>/dev/null`), "");
    // As under cron: no terminal, nothing at all.
    const piped = await runCli(["--config", join(dir, "pipe.ini")]);
    assertEquals([piped.code, piped.stdout, piped.stderr], [0, "", ""]);
    // The bar did not change what was counted.
    for (const db of ["tty", "nostderr", "pipe"]) {
      const [[logins]] = await sqlite3(join(dir, `${db}.sqlite`), "SELECT logins FROM activity");
      assertEquals(
        Number(logins),
        Math.ceil(
          (66 << 20) / new TextEncoder().encode(
            `20261201 10:00:00,vm,app,localhost,7,1,QUERY,db,'SELECT ${"x".repeat(960)}',0\n`,
          ).length / 1000,
        ),
      );
    }
  });
});

Deno.test("progress bar: not for a small run, even on a terminal", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    await copyAuditFiles(FIXTURE, FILES_FULL, logs);
    const config = await writeConfig(dir, { AuditLogPath: logs });
    const shown = await underTerminal(
      `${Deno.execPath()} run --allow-all --quiet ${join(ROOT, "main.ts")} --config ${config}`,
    );
    assertEquals(shown, "");
  });
});

interface Family {
  name: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

function value(families: Family[], name: string, labels?: Record<string, string>): number {
  const family = families.find((f) => f.name === name);
  assert(family, `no ${name}`);
  const sample = family.metrics.find((m) =>
    !labels || Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)
  );
  assert(sample, `no ${name} ${JSON.stringify(labels)}`);
  return Number(sample.value);
}

Deno.test("MetricsFile: a Prometheus textfile written atomically after each run, failed runs too", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    const prom = join(dir, "metrics", "conntracker.prom");
    await Deno.mkdir(logs);
    await Deno.mkdir(join(dir, "metrics"));
    await copyAuditFiles(FIXTURE, FILES_FULL, logs);
    const config = await writeConfig(dir, { AuditLogPath: logs, MetricsFile: prom });
    const ok = await runCli(["--config", config]);
    assertEquals([ok.code, ok.stdout, ok.stderr], [0, "", ""]);
    const db = join(dir, "audit.sqlite");
    const [[startedMs, finishedMs, files, bytes, logins, failed]] = await sqlite3(
      db,
      "SELECT started_ms, finished_ms, files_read, bytes_read, logins, failed_attempts FROM runs",
    );
    const [[accounts]] = await sqlite3(db, "SELECT count(*) FROM activity");
    let families = parsePrometheus(await Deno.readTextFile(prom)) as Family[];
    assertEquals(value(families, "conntracker_last_run_success"), 1);
    assertEquals(
      value(families, "conntracker_last_success_timestamp_seconds"),
      Number(finishedMs) / 1000,
    );
    assertEquals(
      value(families, "conntracker_last_run_duration_seconds"),
      (Number(finishedMs) - Number(startedMs)) / 1000,
    );
    assertEquals(value(families, "conntracker_last_run_files_read"), Number(files));
    assertEquals(value(families, "conntracker_last_run_bytes_read"), Number(bytes));
    assertEquals(value(families, "conntracker_last_run_events", { kind: "login" }), Number(logins));
    assertEquals(
      value(families, "conntracker_last_run_events", { kind: "failed" }),
      Number(failed),
    );
    assertEquals(value(families, "conntracker_accounts"), Number(accounts));
    assertEquals(value(families, "conntracker_runs_total"), 1);
    assertEquals(value(families, "conntracker_runs_failed_total"), 0);
    assertEquals(families.find((f) => f.name === "conntracker_runs_total")?.type, "COUNTER");
    assertEquals((await Deno.stat(prom)).mode! & 0o777, 0o644);
    const listing = [];
    for await (const e of Deno.readDir(join(dir, "metrics"))) listing.push(e.name);
    assertEquals(listing, ["conntracker.prom"]);

    // A failed run (AuditLogPath gone): counted, and the last success kept.
    await Deno.rename(logs, `${logs}.away`);
    const failedRun = await runCli(["--config", config]);
    assertEquals(failedRun.code, 1);
    families = parsePrometheus(await Deno.readTextFile(prom)) as Family[];
    assertEquals(value(families, "conntracker_last_run_success"), 0);
    assertEquals(value(families, "conntracker_runs_failed_total"), 1);
    assertEquals(value(families, "conntracker_runs_total"), 2);
    assertEquals(
      value(families, "conntracker_last_success_timestamp_seconds"),
      Number(finishedMs) / 1000,
    );
    assert(value(families, "conntracker_last_run_timestamp_seconds") > Number(finishedMs) / 1000);

    // A folder that does not exist: one line naming the file, exit 1; the run itself committed.
    await Deno.rename(`${logs}.away`, logs);
    const nowhere = await writeConfig(dir, {
      AuditLogPath: logs,
      MetricsFile: join(dir, "none", "c.prom"),
    });
    const r = await runCli(["--config", nowhere]);
    assertEquals(r.code, 1);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert(
      r.stderr.includes("Metrics file cannot be written") && r.stderr.includes("none/c.prom"),
      r.stderr,
    );
    assertEquals((await sqlite3(db, "SELECT count(*) FROM runs"))[0][0], "2");
  });
});

Deno.test("MetricsFile: a relative path or a name not ending in .prom is a config error (exit 2)", async () => {
  await withTempDir(async (dir) => {
    for (const bad of ["metrics/c.prom", join(dir, "c.txt")]) {
      const config = await writeConfig(dir, { AuditLogPath: dir, MetricsFile: bad });
      const r = await runCli(["--config", config]);
      assertEquals(r.code, 2);
      assertEquals(r.stderr.trim().split("\n").length, 1);
      assert(
        r.stderr.includes("key=MetricsFile") && r.stderr.includes(JSON.stringify(bad).slice(1, -1)),
        r.stderr,
      );
    }
  });
});
