/**
 * Push bench: a local database of `--rows` accounts (default 100,000, from a
 * generated audit log read by the real CLI) pushed to a throwaway central
 * store (one plain MariaDB server, or with `--galera` a 3-node cluster on
 * loopback): the first push (every row new), a push after a run that changed
 * every row, and a push with nothing changed, each the median of `--repeat`.
 * Last, it checks the central table against what the generator wrote.
 *
 * ```sh
 * deno run --allow-all bench/push_bench.ts [--rows 100000] [--repeat 3] [--galera]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { loadConfig } from "../lib/config.ts";
import { pushChanges, type PushSummary } from "../lib/push/push.ts";
import { main } from "../main.ts";
import { centralKeys, writeServerConfig } from "../tests/fleet.ts";
import { startCentral, startCluster } from "../tests/galera.ts";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "100000" },
    repeat: { type: "string", default: "3" },
    galera: { type: "boolean", default: false },
  },
});
const ROWS = Number(values.rows);
const REPEAT = Number(values.repeat);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Appends one CONNECT per account at `at` and gives the file a later modification time. */
async function appendLogins(log: string, at: Date, mtime: number): Promise<void> {
  const iso = at.toISOString();
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)} ${iso.slice(11, 19)}`;
  const lines: string[] = [];
  for (let i = 0; i < ROWS; i++) {
    lines.push(
      `${stamp},bench,user${i},10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255},` +
        `${i + 1},0,CONNECT,,,0\n`,
    );
  }
  await Deno.writeTextFile(log, lines.join(""), { append: true });
  await Deno.utime(log, mtime, mtime);
}

async function timedPush(config: string): Promise<{ ms: number; summary: PushSummary }> {
  const loaded = await loadConfig(config);
  const start = performance.now();
  const summary = await pushChanges({ config: loaded });
  const ms = performance.now() - start;
  if (!summary.ok) throw new Error(`push failed: ${summary.problems.join("; ")}`);
  return { ms, summary };
}

const results: { what: string; rows: number; ms: number[] }[] = [];
function record(what: string, rows: number, ms: number) {
  const found = results.find((r) => r.what === what) ?? { what, rows, ms: [] };
  if (!results.includes(found)) results.push(found);
  found.ms.push(ms);
}

let checked = "";
for (let round = 0; round < REPEAT; round++) {
  await using central = values.galera ? await startCluster() : await startCentral();
  const account = await central.createDatabaseUser({ database: "fleet", user: "pusher" });
  const dir = await Deno.makeTempDir({ prefix: "conntracker-push-bench-" });
  try {
    await Deno.mkdir(join(dir, "logs"));
    const log = join(dir, "logs", "server_audit.log");
    const server = {
      dir,
      sqlite: join(dir, "audit.sqlite"),
      config: join(dir, "conntracker.ini"),
    };
    const keys = { MariadbClient: "/bin/false" };
    const push = { ...centralKeys(account, central.nodes, "bench"), PushAccounts: "false" };
    // Runs without [central], so that each push is timed alone.
    const run = async () => {
      await writeServerConfig(server, undefined, keys);
      if (await main(["--config", server.config]) !== 0) throw new Error("run failed");
      await writeServerConfig(server, push, keys);
    };
    const base = Math.floor(Date.now() / 1000);
    await appendLogins(log, new Date(Date.now() - 86_400_000), base - 10);
    await run();
    const first = await timedPush(server.config);
    record("first push, every row new", first.summary.rowsSent, first.ms);
    await appendLogins(log, new Date(Date.now() - 3_600_000), base - 5);
    await run();
    const changed = await timedPush(server.config);
    record("push after a run that changed every row", changed.summary.rowsSent, changed.ms);
    const idle = await timedPush(server.config);
    record("push with nothing changed", idle.summary.rowsSent, idle.ms);
    const rows = await central.sql(
      central.nodes[0],
      "SELECT COUNT(*) AS n, SUM(logins) AS logins FROM fleet.activity",
    );
    if (Number(rows[0].n) !== ROWS || Number(rows[0].logins) !== 2 * ROWS) {
      throw new Error(`central holds ${JSON.stringify(rows[0])}, expected ${ROWS} rows`);
    }
    checked = `central activity: ${ROWS} rows, ${2 * ROWS} logins, as generated`;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const kind = values.galera ? "3-node Galera cluster" : "one plain MariaDB server";
console.log(`central: ${kind} on loopback, rows: ${ROWS}, median of ${REPEAT}\n`);
const table = [
  ["what", "rows sent", "seconds", "rows/s"],
  ...results.map((r) => {
    const ms = median(r.ms);
    return [
      r.what,
      String(r.rows),
      (ms / 1000).toFixed(3),
      r.rows > 0 ? String(Math.round(r.rows / (ms / 1000))) : "-",
    ];
  }),
];
const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
for (const row of table) console.log(row.map((c, i) => c.padEnd(widths[i])).join("   ").trimEnd());
console.log(`\n${checked}`);
