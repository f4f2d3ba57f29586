import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import type { RunMetrics } from "../lib/track/metrics.ts";
import { runTracking } from "../lib/track/run.ts";
import type { ScanTuning } from "../lib/track/schedule.ts";
import { cutRanges } from "../lib/input/source.ts";
import { countsByAccount, prng, sqlite3, withTempDir, writeConfig } from "./helpers.ts";
import { referenceCounts } from "./reference.ts";

/**
 * Audit text with many connections interleaved: logins, failed logins,
 * queries that quote operations, and successful change-users whose account
 * is named only many lines later (often in a later file), failed
 * change-users, and connections that end naming nobody.
 */
function busyLog(seed: number, lines: number): string {
  const random = prng(seed);
  const users = ["ann", "bob", "zoë", "app_reader", "app_writer"];
  const hosts = ["localhost", "10.0.0.7:51234", "127.0.0.1:40000", "db-client.example.com"];
  const open = new Map<number, { user: string; host: string }>();
  let id = 100, second = 0;
  const out: string[] = [];
  const ts = () => {
    if (random() < 0.3) second++;
    const d = new Date(Date.UTC(2026, 10, 25, 8) + second * 1000).toISOString();
    return `${d.slice(0, 10).replaceAll("-", "")} ${d.slice(11, 19)}`;
  };
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  while (out.length < lines) {
    const r = random();
    const conns = [...open.keys()];
    if (r < 0.15 || conns.length === 0) {
      const c = { user: pick(users), host: pick(hosts) };
      const ok = random() < 0.85;
      out.push(
        `${ts()},vm,${c.user},${c.host},${++id},0,${ok ? "CONNECT" : "FAILED_CONNECT"},,,${
          ok ? 0 : 1045
        }`,
      );
      if (ok) open.set(id, c);
      continue;
    }
    const conn = pick(conns);
    const c = open.get(conn)!;
    if (r < 0.22) {
      // A successful change-user names nobody; the account comes on the connection's next line.
      out.push(`${ts()},vm,,,${conn},0,CHANGEUSER,,,0`);
      open.set(conn, { user: pick(users), host: c.host });
    } else if (r < 0.25) {
      out.push(`${ts()},vm,${pick(users)},${c.host},${conn},0,CHANGEUSER,,,1045`);
    } else if (r < 0.3) {
      out.push(`${ts()},vm,${random() < 0.2 ? "" : c.user},${c.host},${conn},0,DISCONNECT,,,0`);
      open.delete(conn);
    } else {
      out.push(
        `${ts()},vm,${c.user},${c.host},${conn},${
          id * 7
        },QUERY,shop,'SELECT \\'x,${conn},0,CONNECT,y\\'',0`,
      );
    }
  }
  return out.map((l) => l + "\n").join("");
}

/** Writes `text` as `count` rotated files, cut at line ends, oldest first and oldest mtime. */
async function writeRotated(dir: string, text: string, count: number): Promise<void> {
  const lines = text.split(/(?<=\n)/);
  const per = Math.ceil(lines.length / count);
  for (let i = 0; i < count; i++) {
    const name = i === count - 1 ? "server_audit.log" : `server_audit.log.${count - 1 - i}`;
    const path = join(dir, name);
    await Deno.writeTextFile(path, lines.slice(i * per, (i + 1) * per).join(""));
    const at = new Date(Date.now() - (count - i) * 60_000);
    await Deno.utime(path, at, at);
  }
}

/** Runs conntracker in this process, which must not warn; returns its metrics. */
async function track(config: string, tuning: ScanTuning): Promise<RunMetrics> {
  const warnings: string[] = [];
  const log = createLogger("WARN", (l) => warnings.push(l));
  const { metrics } = await runTracking({ config: await loadConfig(config), log, tuning });
  assertEquals(warnings, []);
  return metrics;
}

/** Everything a run leaves that could differ by how it scanned. */
async function dump(db: string): Promise<string[][][]> {
  const out = [];
  for (
    const sql of [
      "SELECT * FROM activity ORDER BY name, host;",
      "SELECT * FROM Accounts ORDER BY name, host;",
      "SELECT * FROM pending_change_user ORDER BY 1, 2;",
      "SELECT path, size, offset, last_instant_ms FROM checkpoints ORDER BY path;",
      "SELECT files_read, bytes_read, logins, failed_attempts, malformed FROM runs;",
    ]
  ) out.push(await sqlite3(db, sql));
  return out;
}

Deno.test("run: Workers on small ranges give what one thread gives and what the reference counts (fuzz)", async () => {
  const random = prng(20261125);
  let rescans = 0;
  for (let round = 0; round < 12; round++) {
    await withTempDir(async (dir) => {
      const logs = join(dir, "logs");
      await Deno.mkdir(logs);
      const text = busyLog(round, 300 + Math.floor(random() * 900));
      await writeRotated(logs, text, 1 + Math.floor(random() * 4));
      const one = await writeConfig(join(dir), {
        AuditLogPath: logs,
        SqlitePath: join(dir, "one.sqlite"),
        MaxWorkers: "1",
        TimeLocation: "UTC",
      });
      await track(one, { parallelBytes: 0, rangeBytes: 1, cores: 4 });
      const workers = String(2 + Math.floor(random() * 3));
      await Deno.mkdir(join(dir, "w"));
      const many = await writeConfig(join(dir, "w"), {
        AuditLogPath: logs,
        MaxWorkers: workers,
        TimeLocation: "UTC",
      });
      const rangeBytes = 200 + Math.floor(random() * 4000);
      rescans += (await track(many, { parallelBytes: 0, rangeBytes, cores: 4 })).rescans;
      const db = join(dir, "w", "audit.sqlite");
      const label = `round ${round}, ${workers} workers, ranges of ${rangeBytes} bytes`;
      assertEquals(await countsByAccount(db), referenceCounts(text), label);
      assertEquals(await dump(db), await dump(join(dir, "one.sqlite")), label);
    });
  }
  assert(rescans > 0, "some change-user was pending across ranges that a Worker scanned");
});

Deno.test("cutRanges() cuts at line starts, in order, about rangeBytes apart, and leaves the last open", async () => {
  await withTempDir(async (dir) => {
    const random = prng(7);
    for (let round = 0; round < 100; round++) {
      const lines = Array.from(
        { length: Math.floor(random() * 200) },
        () => "x".repeat(Math.floor(random() ** 3 * 3000)) + "\n",
      );
      const text = lines.join("");
      const path = join(dir, `f${round}`);
      await Deno.writeTextFile(path, text);
      const starts = new Set([0, ...[...text.matchAll(/\n/g)].map((m) => m.index! + 1)]);
      const from = [...starts][Math.floor(random() * starts.size)];
      const rangeBytes = 1 + Math.floor(random() * 5000);
      const ranges = await cutRanges(path, from, text.length, rangeBytes);
      const label = `round ${round}: ${JSON.stringify(ranges)}`;
      assertEquals(ranges[0].from, from, label);
      assertEquals(ranges.at(-1)!.to, undefined, label);
      for (const [i, r] of ranges.slice(0, -1).entries()) {
        assert(starts.has(r.to!) && r.to! >= r.from + rangeBytes, label);
        assertEquals(ranges[i + 1].from, r.to, label);
      }
      if (text.length - from < 2 * rangeBytes) assertEquals(ranges.length, 1, label);
    }
  });
});
