/**
 * Test helpers: temp dirs, fixtures copied with realistic modification
 * times, the CLI run as cron runs it, and the real `sqlite3` shell.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileLayout, parseWall } from "../lib/time/layout.ts";
import { loadZone, wallToInstant } from "../lib/time/zone.ts";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** The files of the first real capture, oldest first. */
export const FILES_10_11 = [
  "server_audit.log.3",
  "server_audit.log.2",
  "server_audit.log.1",
  "server_audit.log",
];

/** The files of the full real capture, oldest first. */
export const FILES_FULL = ["server_audit.log.4", ...FILES_10_11];

/** The fixtures folder. */
export const FIXTURES: string = join(ROOT, "tests", "fixtures");

/**
 * Creates a temp dir, removed after `fn` (also when it throws).
 *
 * @example
 * ```ts
 * await withTempDir(async (dir) => await Deno.writeTextFile(`${dir}/x`, "x"));
 * ```
 */
export async function withTempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "conntracker-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Copies audit files into `dir`, oldest first. Each gets the modification time
 * the server gave it (a second after its last line), or, with `endMs`, one
 * minute after the one before, ending `endMs`.
 *
 * @example
 * ```ts
 * await copyAuditFiles("mariadb-10.11", ["server_audit.log.1", "server_audit.log"], "/tmp/x");
 * ```
 */
export async function copyAuditFiles(
  fixture: string,
  oldestFirst: string[],
  dir: string,
  endMs?: number,
): Promise<void> {
  for (const [i, name] of oldestFirst.entries()) {
    const target = join(dir, name);
    await Deno.copyFile(join(FIXTURES, fixture, name), target);
    const at = endMs === undefined
      ? writtenAt(await Deno.readTextFile(target))
      : endMs - (oldestFirst.length - 1 - i) * 60_000;
    await Deno.utime(target, new Date(at), new Date(at));
  }
}

/**
 * When the server's last write to a capture's file happened: a second after
 * its last line, read in the capture server's zone (Europe/Zurich). A copy
 * dated "now" could look, to the run's time-zone check, like a log written in
 * another zone whenever now is a zone offset away from its last line.
 */
function writtenAt(text: string): number {
  const last = text.trimEnd().split("\n").at(-1) ?? "";
  const wall = parseWall(AUDIT_LAYOUT, last.slice(0, 17));
  if (wall === undefined) throw new Error(`No audit timestamp on the last line: ${last}`);
  return wallToInstant(CAPTURE_ZONE, wall.wall) + 1000;
}

const AUDIT_LAYOUT = compileLayout("20060102 15:04:05");
const CAPTURE_ZONE = loadZone("Europe/Zurich");

/**
 * Writes a config file and returns its path.
 *
 * @example
 * ```ts
 * await writeConfig("/tmp/x", { AuditLogPath: "/tmp/x/logs" });
 * ```
 */
export async function writeConfig(dir: string, keys: Record<string, string>): Promise<string> {
  const all = {
    SqlitePath: join(dir, "audit.sqlite"),
    TimeLocation: "Europe/Zurich",
    ...keys,
  };
  const path = join(dir, "conntracker.ini");
  await Deno.writeTextFile(
    path,
    "[default]\n" + Object.entries(all).map(([k, v]) => `${k} = ${v}\n`).join(""),
  );
  return path;
}

/** What a CLI run printed and returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `deno run main.ts ARGS` as a subprocess, as cron would; `wrap` is a
 * command to run it under (e.g. `setpriv` with fewer capabilities).
 *
 * @example
 * ```ts
 * const { code } = await runCli(["--config", "/tmp/x/conntracker.ini"]);
 * ```
 */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
  wrap: string[] = [],
): Promise<CliResult> {
  const command = [
    ...wrap,
    Deno.execPath(),
    "run",
    "--allow-all",
    "--quiet",
    join(ROOT, "main.ts"),
    ...args,
  ];
  const out = await new Deno.Command(command[0], {
    args: command.slice(1),
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/**
 * Runs a command under, as root, without the capabilities that let root
 * ignore file permissions: a file with mode 000 is then unreadable, as it is
 * for the `mysql` user that runs conntracker in production.
 */
export const AS_UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"];

/**
 * Runs a query with the real `sqlite3` shell and returns its rows as arrays of
 * strings (`-separator` is a tab).
 *
 * @example
 * ```ts
 * const rows = await sqlite3("/tmp/x/audit.sqlite", "SELECT name FROM Accounts;");
 * ```
 */
export async function sqlite3(db: string, sql: string): Promise<string[][]> {
  const out = await new Deno.Command("sqlite3", {
    args: ["-readonly", "-separator", "\t", db, sql],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`sqlite3 failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "")
    .map((l) => l.split("\t"));
}

/** What the activity table holds for one `user@host`. Times are epoch milliseconds. */
export interface Counted {
  logins: number;
  failed: number;
  lastLogin?: number;
  lastFailed?: number;
}

/**
 * Reads the activity table with the real `sqlite3` shell, keyed by `user@host`.
 *
 * @example
 * ```ts
 * const counts = await activity("/tmp/x/audit.sqlite");
 * ```
 */
export async function activity(db: string): Promise<Map<string, Counted>> {
  const rows = await sqlite3(
    db,
    "SELECT name, host, logins, ifnull(last_login_ms, ''), failed_attempts, ifnull(last_failed_ms, '') FROM activity;",
  );
  return new Map(rows.map(([name, host, logins, last, failed, lastFailed]) => {
    const c: Counted = { logins: Number(logins), failed: Number(failed) };
    if (last) c.lastLogin = Number(last);
    if (lastFailed) c.lastFailed = Number(lastFailed);
    return [`${name}@${host}`, c];
  }));
}

/**
 * Per `user@host` in the activity table: `[key, logins, failed attempts]`, sorted by key.
 *
 * @example
 * ```ts
 * await countsByAccount("/tmp/x/audit.sqlite"); // [["ann@10.0.0.1", 3, 1], ...]
 * ```
 */
export async function countsByAccount(db: string): Promise<[string, number, number][]> {
  const rows = await sqlite3(
    db,
    "SELECT name || '@' || host, logins, failed_attempts FROM activity ORDER BY 1;",
  );
  return rows.map(([k, l, f]) => [k, Number(l), Number(f)]);
}

/**
 * A tiny deterministic PRNG (mulberry32), so that a failing round can be replayed.
 *
 * @example
 * ```ts
 * const random = prng(42);
 * random(); // a number in [0, 1), the same for the same seed
 * ```
 */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The instant of a wall time in a fixed UTC offset: the tests' own, simple
 * conversion, independent of the zone code under test.
 *
 * @example
 * ```ts
 * instantAt("20261125 00:33:40", "+01:00"); // Date.parse("2026-11-25T00:33:40+01:00")
 * ```
 */
export function instantAt(auditTimestamp: string, offset: string): number {
  const m = /^(\d{4})(\d\d)(\d\d) (\d\d:\d\d:\d\d)$/.exec(auditTimestamp);
  if (!m) throw new Error(`not an audit timestamp: ${auditTimestamp}`);
  return Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}${offset}`);
}

/**
 * Asserts that `fn` rejects with an error whose message matches.
 *
 * @example
 * ```ts
 * await assertRejects(() => Promise.reject(new Error("boom")), /boom/);
 * ```
 */
export async function assertRejects(fn: () => Promise<unknown>, pattern: RegExp): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    if (!pattern.test((e as Error).message)) {
      throw new Error(`error "${(e as Error).message}" does not match ${pattern}`);
    }
    return e as Error;
  }
  throw new Error(`expected a rejection matching ${pattern}`);
}

/**
 * Stops a process a test started, by its PID (SIGTERM), and waits for it to exit.
 *
 * @example
 * ```ts
 * await stopChild(new Deno.Command("sleep", { args: ["60"] }).spawn());
 * ```
 */
export async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    Deno.kill(child.pid, "SIGTERM");
  } catch {
    // Already gone.
  }
  await child.status;
}
