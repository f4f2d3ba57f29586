/**
 * `deno task bench [--data all|sparse|heavy|syslog] [--files 10] [--file-mb 100] [--repeat 3]
 * [--rotated-files 1000] [--workers N] [--dir DIR]`
 *
 * For each data set (see `generate.ts`: the sparse one, 2 % connection lines,
 * the connection-heavy one, about 25 %, and the sparse one's lines as rsyslog
 * writes them when the plugin logs to syslog), generates a logrotate-style set
 * of audit files (deterministic: the same options give the same bytes), then
 * measures conntracker as cron runs it, a subprocess per run (the `start`
 * task's command, see `cli.ts`), each row the median of `--repeat` runs:
 *
 * 1. the initial run into an empty database, `MaxWorkers` at its default (or
 *    `--workers`), then with `MaxWorkers = 1`; after each, the database is
 *    checked against the generator's record;
 * 2. a run after appending 1 MB to the live file (then checked again);
 * 3. a run with nothing new;
 *
 * next to `cat | wc -c` and `LC_ALL=C grep -cF ',CONNECT,'` on the same files.
 * Then: a run with nothing new among `--rotated-files` small rotated files
 * already read, plus the live one; a run over 100,000 distinct accounts (the
 * upsert); and `deno run` of an empty script. Columns: wall time, MB/s, the
 * ratio to grep (initial runs) or to the empty `deno run` (small runs), the
 * bytes the run says it read (`runs` table), peak RSS (VmHWM from /proc), and
 * for the runs with nothing new, from one more run under `strace`, how many
 * audit files it opened and how many bytes it really read from them.
 *
 * Exit code 1 when a check fails.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { compareWithTruth, lastRunBytes } from "./check.ts";
import { startTaskCommand } from "./cli.ts";
import {
  type AuditGenerator,
  ConnectionHeavyGenerator,
  SparseGenerator,
  SyslogGenerator,
  writeAuditFile,
} from "./generate.ts";
import {
  type CommandSpec,
  type FileAccess,
  haveStrace,
  measure,
  median,
  traceFileAccess,
} from "./measure.ts";
import { ROOT } from "../tests/helpers.ts";
import { HAVE_MARIADB } from "../tests/mariadb.ts";

const MB = 1 << 20;
const USAGE = "usage: deno task bench [--data all|sparse|heavy|syslog] [--files N] [--file-mb N] " +
  "[--repeat N] [--rotated-files N] [--workers N] [--push-rows N] [--dir DIR]";

/** One line of the table. */
interface Row {
  what: string;
  seconds: number;
  rssMb: number;
  /** Audit bytes the row is about, for MB/s. */
  bytes?: number;
  /** grep's time on the same data: the row is shown as a multiple of it. */
  grepSeconds?: number;
  /** Shown as a multiple of the empty `deno run`. */
  vsEmpty?: boolean;
  /** Bytes read, from the run's `runs` row. */
  read?: number;
  access?: FileAccess;
}

/** What to do before and after each timed run of a row. */
interface RowPlan {
  before?: () => Promise<void>;
  /** Bytes read, from the database. */
  after?: () => number;
  bytes?: number;
  grepSeconds?: number;
  vsEmpty?: boolean;
}

function option(text: string, name: string, min: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) {
    console.error(`--${name} must be a number of at least ${min}, not "${text}"\n${USAGE}`);
    Deno.exit(2);
  }
  return n;
}

const OPTIONS = {
  data: { type: "string", default: "all" },
  files: { type: "string", default: "10" },
  "file-mb": { type: "string", default: "100" },
  repeat: { type: "string", default: "3" },
  "rotated-files": { type: "string", default: "1000" },
  "push-rows": { type: "string", default: "100000" },
  workers: { type: "string" },
  dir: { type: "string" },
  help: { type: "boolean" },
} as const;

function parseOptions() {
  try {
    return parseArgs({ args: Deno.args, options: OPTIONS }).values;
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
}

const opts = parseOptions();
if (opts.help) {
  console.log(USAGE);
  Deno.exit(0);
}
if (!["all", "sparse", "heavy", "syslog"].includes(opts.data)) {
  console.error(`--data must be all, sparse, heavy or syslog, not "${opts.data}"\n${USAGE}`);
  Deno.exit(2);
}
const FILES = option(opts.files, "files", 1);
const FILE_BYTES = Math.round(option(opts["file-mb"], "file-mb", 0.001) * MB);
const REPEAT = option(opts.repeat, "repeat", 1);
const ROTATED = option(opts["rotated-files"], "rotated-files", 0);
const PUSH_ROWS = option(opts["push-rows"], "push-rows", 0);
const WORKERS = opts.workers === undefined ? undefined : option(opts.workers, "workers", 1);

const loadAtStart = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "conntracker-bench-" });
await Deno.mkdir(dir, { recursive: true });
const start = await startTaskCommand();
const strace = await haveStrace();
const rows: Row[] = [];
let failedChecks = 0;

function conntracker(config: string): CommandSpec {
  return { ...start, args: [...start.args, "--config", config] };
}

async function timed(what: string, spec: CommandSpec, plan: RowPlan = {}): Promise<Row> {
  const times: number[] = [], rss: number[] = [];
  let read: number | undefined;
  for (let i = 0; i < REPEAT; i++) {
    await plan.before?.();
    const m = await measure(spec);
    times.push(m.seconds);
    rss.push(m.rssMb);
    read = plan.after?.();
  }
  const row: Row = {
    what,
    seconds: median(times),
    rssMb: Math.max(...rss),
    bytes: plan.bytes,
    grepSeconds: plan.grepSeconds,
    vsEmpty: plan.vsEmpty,
    read,
  };
  rows.push(row);
  return row;
}

function check(what: string, db: string, generator: AuditGenerator): void {
  const wrong = compareWithTruth(db, generator.truth);
  if (wrong.length === 0) {
    console.log(
      `check (${what}): the database equals the generator's record ` +
        `(${generator.truth.size} accounts)`,
    );
  } else {
    failedChecks++;
    console.log(
      `CHECK FAILED (${what}): the database differs from the generator's record:\n  ` +
        wrong.join("\n  "),
    );
  }
}

async function removeDb(db: string): Promise<void> {
  for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(db + suffix).catch(() => {});
}

/** Writes a config file for `logs` and `db`, and returns its path. */
async function writeConfig(
  path: string,
  logs: string,
  db: string,
  workers?: number,
): Promise<string> {
  const keys = `AuditLogPath = ${logs}\nSqlitePath = ${db}\nTimeLocation = UTC\n` +
    (workers === undefined ? "" : `MaxWorkers = ${workers}\n`);
  await Deno.writeTextFile(path, `[default]\n${keys}`);
  return path;
}

/** Writes `count` files oldest first (`server_audit.log.<count-1>` … `server_audit.log`). */
async function writeLogs(
  generator: AuditGenerator,
  logs: string,
  count: number,
  bytes: number,
): Promise<string[]> {
  // A kept --dir may hold files of a run with other sizes.
  await Deno.remove(logs, { recursive: true }).catch(() => {});
  await Deno.mkdir(logs, { recursive: true });
  const paths = Array.from(
    { length: count },
    (_, i) =>
      join(logs, i === count - 1 ? "server_audit.log" : `server_audit.log.${count - 1 - i}`),
  );
  for (const path of paths) await writeAuditFile(generator, path, bytes);
  return paths;
}

/** One more run, under strace, of a run with nothing new: what it touched. */
async function traced(row: Row, spec: CommandSpec, logs: string): Promise<void> {
  if (strace) row.access = await traceFileAccess(spec, logs);
}

const empty = join(dir, "empty.ts");
await Deno.writeTextFile(empty, "");
const emptyRow = await timed("deno run empty.ts (anchor)", {
  cmd: Deno.execPath(),
  args: ["run", "--quiet", empty],
});

const sets: { name: string; generator: AuditGenerator }[] = [];
const wanted = (name: string) => opts.data === "all" || opts.data === name;
if (wanted("sparse")) sets.push({ name: "sparse", generator: new SparseGenerator() });
if (wanted("heavy")) sets.push({ name: "heavy", generator: new ConnectionHeavyGenerator() });
if (wanted("syslog")) {
  sets.push({ name: "syslog", generator: new SyslogGenerator(new SparseGenerator()) });
}
const summaries: string[] = [];
for (const { name, generator } of sets) {
  const base = join(dir, name);
  const logs = join(base, "logs");
  const db = join(base, "audit.sqlite");
  console.log(`${name}: generating ${FILES} files of ${FILE_BYTES / MB} MB in ${logs} ...`);
  const paths = await writeLogs(generator, logs, FILES, FILE_BYTES);
  const bytes = paths.reduce((sum, p) => sum + Deno.statSync(p).size, 0);
  summaries.push(
    `${name}: ${FILES} files, ${(bytes / MB).toFixed(0)} MB, ` +
      (generator instanceof ConnectionHeavyGenerator
        ? heavySummary(generator)
        : generator instanceof SyslogGenerator
        ? "the sparse lines, as rsyslog writes them"
        : "2 % CONNECT, 0.5 % FAILED_CONNECT"),
  );
  // Through a pipe: GNU cat writing to /dev/null may not read the data at all.
  await timed(`${name}: cat | wc -c (anchor)`, {
    cmd: "sh",
    args: ["-c", `cat "$@" | wc -c >"${join(base, "cat.out")}"`, "sh", ...paths],
  }, { bytes });
  const grep = await timed(`${name}: grep -cF ',CONNECT,' (anchor)`, {
    cmd: "sh",
    // Not to /dev/null: GNU grep then stops at the first match.
    args: ["-c", `LC_ALL=C grep -cF ',CONNECT,' "$@" >"${join(base, "grep.out")}"`, "sh", ...paths],
  }, { bytes });
  const config = await writeConfig(join(base, "conntracker.ini"), logs, db, WORKERS);
  const oneThread = await writeConfig(join(base, "one-thread.ini"), logs, db, 1);
  const initial = {
    before: () => removeDb(db),
    after: () => lastRunBytes(db),
    bytes,
    grepSeconds: grep.seconds,
  };
  const workers = WORKERS === undefined ? "default" : `= ${WORKERS}`;
  await timed(`${name}: initial run, MaxWorkers ${workers}`, conntracker(config), initial);
  check(`${name}, initial run, MaxWorkers ${workers}`, db, generator);
  await timed(`${name}: initial run, MaxWorkers = 1`, conntracker(oneThread), initial);
  check(`${name}, initial run, MaxWorkers = 1`, db, generator);
  const live = paths[paths.length - 1];
  await timed(`${name}: run after a 1 MB append`, conntracker(config), {
    before: () => writeAuditFile(generator, live, MB, true),
    after: () => lastRunBytes(db),
    bytes: MB,
    vsEmpty: true,
  });
  check(
    `${name}, after ${REPEAT === 1 ? "an append" : `${REPEAT} appends`} of 1 MB`,
    db,
    generator,
  );
  const nothing = await timed(`${name}: run with nothing new`, conntracker(config), {
    after: () => lastRunBytes(db),
    vsEmpty: true,
  });
  await traced(nothing, conntracker(config), logs);
}

function heavySummary(g: ConnectionHeavyGenerator): string {
  const s = g.stats;
  return `${(100 * s.connectionLines / s.lines).toFixed(1)} % connection lines, ` +
    `${s.changeUsers} change-users (${s.resolvedInLaterFile} named in a later file, ` +
    `the longest wait ${s.longestWait} lines)`;
}

if (ROTATED > 0) {
  const base = join(dir, "rotated");
  const logs = join(base, "logs");
  const db = join(base, "audit.sqlite");
  const generator = new ConnectionHeavyGenerator({ seed: 11 });
  console.log(`rotated: generating ${ROTATED} rotated files of 8 KB and the live one ...`);
  await writeLogs(generator, logs, ROTATED + 1, 8 << 10);
  const config = await writeConfig(join(base, "conntracker.ini"), logs, db, WORKERS);
  await removeDb(db);
  await measure(conntracker(config));
  check(`rotated, initial run over ${ROTATED + 1} files`, db, generator);
  const row = await timed(
    `nothing new among ${ROTATED.toLocaleString("en")} rotated files + live`,
    conntracker(config),
    { after: () => lastRunBytes(db), vsEmpty: true },
  );
  await traced(row, conntracker(config), logs);
}

// 100,000 distinct accounts in one run: the upsert.
{
  const base = join(dir, "many");
  await Deno.mkdir(base, { recursive: true });
  const log = join(base, "server_audit.log");
  let text = "";
  for (let i = 0; i < 100_000; i++) {
    text += `20261125 10:00:00,db1,user_${i},10.9.${i % 256}.${i >> 8 & 255},${i},0,CONNECT,,,0\n`;
  }
  await Deno.writeTextFile(log, text);
  // Modified a second after its last line, as a server's file is.
  const modified = new Date(Date.UTC(2026, 10, 25, 10, 0, 1));
  await Deno.utime(log, modified, modified);
  const db = join(base, "audit.sqlite");
  const config = await writeConfig(join(base, "conntracker.ini"), log, db);
  await timed("100,000 distinct accounts, empty database", conntracker(config), {
    before: () => removeDb(db),
    after: () => lastRunBytes(db),
    bytes: text.length,
  });
}

const loadAtEnd = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
console.log(
  `\ncores: ${navigator.hardwareConcurrency}, load average at start ${loadAtStart}, ` +
    `at end ${loadAtEnd}; deno ${Deno.version.deno}; median of ${REPEAT}`,
);
console.log(
  `conntracker: ${[start.cmd, ...start.args].join(" ")} (the start task, in ${start.cwd})`,
);
for (const s of summaries) console.log(s);
console.log();
const pad = (s: string, n: number) => s.padEnd(n);
console.log(
  pad("what", 48) + pad("seconds", 9) + pad("MB/s", 7) + pad("x grep", 8) + pad("x empty", 9) +
    pad("read MB", 9) + pad("peak RSS MB", 13) + pad("opened", 8) + "KB read (strace)",
);
for (const r of rows) {
  const mbs = r.bytes ? (r.bytes / MB / r.seconds).toFixed(0) : "-";
  const xGrep = r.grepSeconds ? (r.seconds / r.grepSeconds).toFixed(2) : "-";
  const xEmpty = r.vsEmpty ? (r.seconds / emptyRow.seconds).toFixed(2) : "-";
  const read = r.read === undefined ? "-" : (r.read / MB).toFixed(2);
  console.log(
    pad(r.what, 48) + pad(r.seconds.toFixed(3), 9) + pad(mbs, 7) + pad(xGrep, 8) +
      pad(xEmpty, 9) + pad(read, 9) + pad(r.rssMb.toFixed(0), 13) +
      pad(r.access ? String(r.access.opened) : "-", 8) +
      (r.access ? (r.access.bytes / 1024).toFixed(0) : "-"),
  );
}
if (!strace) console.log("(strace is not installed: no opened / KB read columns)");
if (failedChecks > 0) {
  console.log(`\n${failedChecks} check(s) FAILED`);
  Deno.exitCode = 1;
}
if (!opts.dir) await Deno.remove(dir, { recursive: true });

// The push to a central store: its own table, against a throwaway MariaDB server.
if (PUSH_ROWS > 0 && HAVE_MARIADB) {
  console.log();
  const push = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      join(ROOT, "bench", "push_bench.ts"),
      `--rows=${PUSH_ROWS}`,
      `--repeat=${REPEAT}`,
    ],
  }).spawn().status;
  if (!push.success) Deno.exitCode = 1;
} else if (PUSH_ROWS > 0) {
  console.log("\n(no mariadbd here: no push rows; apt-get install mariadb-server)");
}
