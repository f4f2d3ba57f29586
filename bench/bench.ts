/**
 * `deno task bench [--files 10] [--file-mb 100] [--repeat 3] [--workers 4] [--dir DIR]`
 *
 * Generates a logrotate-style set of audit files (deterministic: the same
 * options give the same bytes), then measures conntracker as cron runs it
 * (`deno run main.ts`, a subprocess), each the median of `--repeat` runs:
 *
 * 1. the initial run over all files into an empty database;
 * 2. a run after appending 1 MB to the live file;
 * 3. a run with nothing new;
 * 4. a run over 100,000 distinct accounts (the upsert);
 *
 * next to the hardware anchors on the same files in the same process of
 * measurement: `LC_ALL=C grep -cF ',CONNECT,'`, `cat`, and `deno run` of an
 * empty script. It prints wall time, MB/s, the ratio to grep, the bytes the
 * run read (from the `runs` table) and peak RSS (VmHWM from /proc), then
 * checks the database against what the generator wrote.
 *
 * @module
 */

import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { prng, ROOT } from "../tests/helpers.ts";

const MB = 1 << 20;

const { values: opts } = parseArgs({
  args: Deno.args,
  options: {
    files: { type: "string", default: "10" },
    "file-mb": { type: "string", default: "100" },
    repeat: { type: "string", default: "3" },
    workers: { type: "string", default: "4" },
    dir: { type: "string" },
  },
});
const FILES = Number(opts.files);
const FILE_BYTES = Number(opts["file-mb"]) * MB;
const REPEAT = Number(opts.repeat);

/** What the generator wrote per `user@host`: the oracle. */
interface Truth {
  logins: number;
  failed: number;
  lastLogin?: string;
}

/** Writes audit lines in time order, keeping the oracle. */
class Generator {
  random = prng(42);
  second = Date.UTC(2026, 10, 2, 0, 0, 0) / 1000;
  lineInSecond = 0;
  connection = 1000;
  query = 1;
  truth = new Map<string, Truth>();
  users: string[];
  hosts: string[];
  constructor(accounts: number) {
    this.users = Array.from({ length: accounts }, (_, i) => `app_${i.toString(36)}`);
    this.hosts = Array.from({ length: 64 }, (_, i) => `10.${i % 4}.${(i * 7) % 256}.${i + 1}`);
  }
  timestamp(): string {
    if (++this.lineInSecond > 8) this.lineInSecond = 0, this.second++;
    const d = new Date(this.second * 1000);
    const p = (n: number) => String(n).padStart(2, "0");
    // The bench's zone is UTC: wall text is the UTC time.
    return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())} ${
      p(d.getUTCHours())
    }:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  }
  line(): string {
    const r = this.random();
    const ts = this.timestamp();
    const u = Math.floor(this.random() * this.users.length);
    const user = this.users[u];
    // Each user connects from one to three hosts of its own.
    const host = this.hosts[(u + Math.floor(this.random() * (1 + (u % 3)))) % this.hosts.length];
    const id = this.connection;
    const head = `${ts},db1,${user},${host},`;
    if (r < 0.02) {
      const key = `${user}@${host}`;
      const t = this.truth.get(key) ?? { logins: 0, failed: 0 };
      t.logins++;
      t.lastLogin = ts;
      this.truth.set(key, t);
      return `${head}${++this.connection},0,CONNECT,shop,,0\n`;
    }
    if (r < 0.025) {
      const key = `${user}@${host}`;
      const t = this.truth.get(key) ?? { logins: 0, failed: 0 };
      t.failed++;
      this.truth.set(key, t);
      return `${head}${++this.connection},0,FAILED_CONNECT,,,1045\n`;
    }
    if (r < 0.045) return `${head}${id},0,DISCONNECT,shop,,0\n`;
    const q = ++this.query;
    if (r < 0.1) return `${head}${id},${q},READ,shop,orders,\n`;
    return `${head}${id},${q},QUERY,shop,'SELECT id, note FROM orders WHERE note = \\'a,CONNECT,b\\' ` +
      `AND status IN (1,2,3) AND customer = ${Math.floor(r * 1e6)} /* ,FAILED_CONNECT, */',0\n`;
  }
  /** Appends about `bytes` of lines to `path`. */
  async write(path: string, bytes: number, append = false): Promise<void> {
    const file = await Deno.open(path, { write: true, create: true, append, truncate: !append });
    const encoder = new TextEncoder();
    let written = 0;
    while (written < bytes) {
      let chunk = "";
      while (chunk.length < MB) chunk += this.line();
      const data = encoder.encode(chunk);
      await file.write(data);
      written += data.length;
    }
    file.close();
  }
}

/** Runs a command, returning its wall time and peak RSS (VmHWM, polled from /proc). */
async function measure(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ seconds: number; rssMb: number }> {
  const started = performance.now();
  const child = new Deno.Command(cmd, { args, env, stdout: "null", stderr: "piped" }).spawn();
  let peakKb = 0;
  let done = false;
  const status = child.output().then((out) => {
    done = true;
    return out;
  });
  while (!done) {
    try {
      const text = await Deno.readTextFile(`/proc/${child.pid}/status`);
      const kb = Number(/VmHWM:\s+(\d+)/.exec(text)?.[1] ?? 0);
      if (kb > peakKb) peakKb = kb;
    } catch {
      // Gone.
    }
    await Promise.race([status, new Promise((r) => setTimeout(r, 5))]);
  }
  const out = await status;
  const seconds = (performance.now() - started) / 1000;
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return { seconds, rssMb: peakKb / 1024 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function removeDb(db: string): Promise<void> {
  for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(db + suffix).catch(() => {});
}

function lastRunBytes(db: string): number {
  const d = new DatabaseSync(db, { readOnly: true });
  const row = d.prepare("SELECT bytes_read FROM runs ORDER BY rowid DESC LIMIT 1").get() as {
    bytes_read: number;
  };
  d.close();
  return Number(row.bytes_read);
}

const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "conntracker-bench-" });
const logs = join(dir, "logs");
const db = join(dir, "audit.sqlite");
await Deno.mkdir(logs, { recursive: true });
const names = Array.from(
  { length: FILES },
  (_, i) => i === FILES - 1 ? "server_audit.log" : `server_audit.log.${FILES - 1 - i}`,
);
const paths = names.map((n) => join(logs, n));

console.log(
  `generating ${FILES} files of ${FILE_BYTES / MB} MB in ${logs} (deterministic seed) ...`,
);
const generator = new Generator(5000);
for (const [i, path] of paths.entries()) {
  await generator.write(path, FILE_BYTES);
  const at = new Date(Date.now() - (FILES - i) * 60_000);
  await Deno.utime(path, at, at);
}
const bytes = paths.reduce((sum, p) => sum + Deno.statSync(p).size, 0);
const config = join(dir, "conntracker.ini");
await Deno.writeTextFile(
  config,
  `[default]\nAuditLogPath = ${logs}\nSqlitePath = ${db}\nTimeLocation = UTC\n` +
    `MaxWorkers = ${opts.workers}\n`,
);
// The V8 flags the shipped binary is built with (the `build` task), so that memory is measured as shipped.
const build: string = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks.build;
const v8Flags = build.split(" ").filter((arg) => arg.startsWith("--v8-flags"));
const mainTs = ["run", "--allow-all", ...v8Flags, "--quiet", join(ROOT, "main.ts")];
const conntracker = [...mainTs, "--config", config];
const oneThread = join(dir, "one-thread.ini");
await Deno.writeTextFile(
  oneThread,
  (await Deno.readTextFile(config)).replace(/MaxWorkers = .*/, "MaxWorkers = 1"),
);

interface Row {
  what: string;
  seconds: number;
  bytes: number;
  read?: number;
  rssMb: number;
}
const rows: Row[] = [];
async function bench(
  what: string,
  dataBytes: number,
  before: () => Promise<void>,
  cmd: string,
  args: string[],
  after?: () => number,
  env: Record<string, string> = {},
): Promise<void> {
  const times: number[] = [], rss: number[] = [];
  let read: number | undefined;
  for (let i = 0; i < REPEAT; i++) {
    await before();
    const m = await measure(cmd, args, env);
    times.push(m.seconds);
    rss.push(m.rssMb);
    if (after) read = after();
  }
  rows.push({ what, seconds: median(times), bytes: dataBytes, read, rssMb: Math.max(...rss) });
}

const nothing = () => Promise.resolve();
// Through a pipe: GNU cat writing to /dev/null may not read the data at all.
await bench("cat | wc -c (anchor)", bytes, nothing, "sh", [
  "-c",
  `cat "$@" | wc -c >"${join(dir, "cat.out")}"`,
  "sh",
  ...paths,
]);
await bench(
  "grep -cF ',CONNECT,' (anchor)",
  bytes,
  nothing,
  "sh",
  // Not to /dev/null: GNU grep then stops at the first match.
  ["-c", `LC_ALL=C grep -cF ',CONNECT,' "$@" >"${join(dir, "grep.out")}"`, "sh", ...paths],
);
const empty = join(dir, "empty.ts");
await Deno.writeTextFile(empty, "");
await bench("deno run empty.ts (anchor)", 0, nothing, Deno.execPath(), ["run", "--quiet", empty]);
/** The check: the database equals what the generator wrote. */
function checkDatabase(what: string): void {
  const d = new DatabaseSync(db, { readOnly: true });
  const got = d.prepare("SELECT name, host, logins, failed_attempts FROM activity").all() as {
    name: string;
    host: string;
    logins: number;
    failed_attempts: number;
  }[];
  const accounts = d.prepare("SELECT name, host, last_seen FROM Accounts").all() as {
    name: string;
    host: string;
    last_seen: string;
  }[];
  d.close();
  let wrong = got.length === generator.truth.size ? 0 : 1;
  for (const r of got) {
    const t = generator.truth.get(`${r.name}@${r.host}`);
    if (!t || t.logins !== Number(r.logins) || t.failed !== Number(r.failed_attempts)) wrong++;
  }
  for (const a of accounts) {
    const t = generator.truth.get(`${a.name}@${a.host}`);
    const want = t?.lastLogin?.replace(/^(\d{4})(\d\d)(\d\d) /, "$1-$2-$3 ") + "+00:00";
    if (a.name !== "mysql" && a.last_seen !== want) wrong++;
  }
  console.log(
    wrong === 0
      ? `check (${what}): the database equals the generator's record (${got.length} accounts)`
      : `CHECK FAILED (${what}): ${wrong} accounts differ from the generator's record`,
  );
  if (wrong) Deno.exitCode = 1;
}

await bench(
  "initial run, empty database",
  bytes,
  () => removeDb(db),
  Deno.execPath(),
  conntracker,
  () => lastRunBytes(db),
);
checkDatabase("initial run");
await bench(
  "initial run, MaxWorkers = 1",
  bytes,
  () => removeDb(db),
  Deno.execPath(),
  [...mainTs, "--config", oneThread],
  () => lastRunBytes(db),
);
checkDatabase("MaxWorkers = 1");

const live = paths[paths.length - 1];
await bench(
  "run after a 1 MB append",
  MB,
  async () => {
    await generator.write(live, MB, true);
  },
  Deno.execPath(),
  conntracker,
  () => lastRunBytes(db),
);
await bench(
  "run with nothing new",
  0,
  nothing,
  Deno.execPath(),
  conntracker,
  () => lastRunBytes(db),
);

// 100,000 distinct accounts in one run: the upsert.
const many = join(dir, "many");
await Deno.mkdir(many, { recursive: true });
const manyLog = join(many, "server_audit.log");
let text = "";
for (let i = 0; i < 100_000; i++) {
  text += `20261125 10:00:00,db1,user_${i},10.9.${i % 256}.${i >> 8 & 255},${i},0,CONNECT,,,0\n`;
}
await Deno.writeTextFile(manyLog, text);
await Deno.utime(manyLog, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
const manyConfig = join(many, "conntracker.ini");
const manyDb = join(many, "audit.sqlite");
await Deno.writeTextFile(
  manyConfig,
  `[default]\nAuditLogPath = ${manyLog}\nSqlitePath = ${manyDb}\nTimeLocation = UTC\n`,
);
await bench(
  "100,000 distinct accounts, empty database",
  text.length,
  () => removeDb(manyDb),
  Deno.execPath(),
  [...mainTs, "--config", manyConfig],
  () => lastRunBytes(manyDb),
);

const grep = rows.find((r) => r.what.startsWith("grep"))!.seconds;
const pad = (s: string, n: number) => s.padEnd(n);
console.log(
  `\ncores: ${navigator.hardwareConcurrency}, data: ${FILES} files, ${
    (bytes / MB).toFixed(0)
  } MB, MaxWorkers: ${opts.workers}, median of ${REPEAT}\n`,
);
console.log(
  pad("what", 44) + pad("seconds", 10) + pad("MB/s", 9) + pad("x grep", 9) + pad("read MB", 10) +
    "peak RSS MB",
);
for (const r of rows) {
  const mbs = r.bytes > 0 ? (r.bytes / MB / r.seconds).toFixed(0) : "-";
  const ratio = r.bytes === bytes ? (r.seconds / grep).toFixed(2) : "-";
  const read = r.read === undefined ? "-" : (r.read / MB).toFixed(2);
  console.log(
    pad(r.what, 44) + pad(r.seconds.toFixed(3), 10) + pad(mbs, 9) + pad(ratio, 9) + pad(read, 10) +
      r.rssMb.toFixed(0),
  );
}
if (!opts.dir) await Deno.remove(dir, { recursive: true });
