/**
 * A real run (`deno run main.ts`, as cron runs it) caught inside its write
 * transaction, or at another moment a test names (an audit file open), and
 * stopped there with `SIGSTOP`, so that a test can look at the database while
 * the run holds it (what a reader sees, what modes its files have) or change
 * the files under it (a rotation while it reads).
 *
 * @module
 */

import { join } from "node:path";
import { type CliResult, ROOT } from "./helpers.ts";

/**
 * Whether process `pid` is inside a write transaction on the WAL database
 * `db`, before its commit: it holds the WAL write lock (byte 120 of the
 * `-shm`) and no lock on the database file beyond a reader's (closing takes
 * one, to checkpoint).
 *
 * @example
 * ```ts
 * inTransaction(child.pid, "/tmp/x/audit.sqlite");
 * ```
 */
export function inTransaction(pid: number, db: string): boolean {
  let dbIno, shmIno;
  try {
    dbIno = Deno.statSync(db).ino;
    shmIno = Deno.statSync(db + "-shm").ino;
  } catch {
    return false;
  }
  const locks = Deno.readTextFileSync("/proc/locks").split("\n").map((l) => l.trim().split(/\s+/))
    .filter((f) => f[4] === String(pid)).map((f) => ({
      write: f[3] === "WRITE",
      ino: Number(f[5].split(":")[2]),
      start: f[6],
    }));
  return locks.some((l) => l.write && l.ino === shmIno && l.start === "120") &&
    !locks.some((l) => l.write && l.ino === dbIno);
}

/**
 * Whether process `pid` is inside its first run's transaction on `db`: in
 * WAL mode, {@link inTransaction}, and nothing committed to the WAL yet (the
 * commit writes it).
 */
function inFirstTransaction(pid: number, db: string): boolean {
  let walSize;
  try {
    walSize = Deno.statSync(db + "-wal").size;
  } catch {
    return false;
  }
  if (walSize !== 0) return false;
  const header = new Uint8Array(20);
  const file = Deno.openSync(db);
  const n = file.readSync(header);
  file.close();
  return n === 20 && header[18] === 2 && inTransaction(pid, db);
}

/**
 * Whether process `pid` has `path` open (one of its `/proc/PID/fd` links
 * names it).
 *
 * @example
 * ```ts
 * hasOpen(child.pid, "/tmp/x/logs/server_audit.log");
 * ```
 */
export function hasOpen(pid: number, path: string): boolean {
  try {
    for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        if (Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`) === path) return true;
      } catch {
        // Closed since it was listed.
      }
    }
  } catch {
    // Gone.
  }
  return false;
}

/**
 * Waits until every thread of a process has stopped (`SIGSTOP` is delivered
 * asynchronously), or the process has exited.
 */
async function waitStopped(pid: number): Promise<void> {
  for (let i = 0; i < 5000; i++) {
    let states: (string | undefined)[];
    try {
      states = [...Deno.readDirSync(`/proc/${pid}/task`)].map((t) =>
        /^\d+ \(.*\) (\S)/.exec(Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`))?.[1]
      );
    } catch {
      return; // Gone.
    }
    if (states.every((s) => s === "T" || s === "t") || states.includes("Z")) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error(`process ${pid} did not stop`);
}

/**
 * An audit log big enough (about 64 MB) that a run holds its transaction for
 * a while: one login, then queries.
 *
 * @example
 * ```ts
 * await writeBigLog("/tmp/x/logs/server_audit.log");
 * ```
 */
export async function writeBigLog(path: string): Promise<void> {
  const query = "20261125 10:00:01,vm,app,10.0.0.1,3,7,QUERY,,'select 1 from dual',0\n";
  await Deno.writeTextFile(
    path,
    "20261125 10:00:00,vm,app,10.0.0.1,3,0,CONNECT,,,0\n" + query.repeat(900_000),
  );
}

/** What a stopped run printed and returned, and whether it was stopped at all. */
export interface StoppedRun extends CliResult {
  /** Whether `when` held before the run ended (else `fn` did not run). */
  stopped: boolean;
}

/**
 * Starts a run with `--config config` (under `wrap`, which must `exec` it),
 * stops it with `SIGSTOP` the first time `when(pid)` holds (and still holds
 * once every thread has stopped), runs `fn`, then lets it go on and returns
 * what it printed. A run that ends before `when` holds is not stopped.
 *
 * @example
 * ```ts
 * const run = await stopRunWhen({ config, when: (pid) => hasOpen(pid, log) }, async () => {
 *   await Deno.rename(log, `${log}.1`); // while the run has it open
 * });
 * run.stopped; // true
 * ```
 */
export async function stopRunWhen(
  options: { config: string; wrap?: string[]; when: (pid: number) => boolean },
  fn: () => Promise<void>,
): Promise<StoppedRun> {
  const { config, wrap = [], when } = options;
  const command = [
    ...wrap,
    Deno.execPath(),
    "run",
    "--allow-all",
    "--quiet",
    join(ROOT, "main.ts"),
    "--config",
    config,
  ];
  const child = new Deno.Command(command[0], {
    args: command.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  let stopped = false;
  let exited = false;
  output.finally(() => exited = true);
  while (!exited && !stopped) {
    if (when(child.pid)) {
      Deno.kill(child.pid, "SIGSTOP");
      await waitStopped(child.pid);
      // It may have gone on between the look and the stop.
      if (when(child.pid)) stopped = true;
      else Deno.kill(child.pid, "SIGCONT");
    } else await new Promise((resolve) => setTimeout(resolve, 1));
  }
  if (stopped) {
    try {
      await fn();
    } finally {
      Deno.kill(child.pid, "SIGCONT");
    }
  }
  const out = await output;
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr), stopped };
}

/**
 * Starts a run with `--config config` (under `wrap`, which must `exec` it),
 * stops it with `SIGSTOP` inside its first transaction on `db` (a new
 * database), runs `fn`,
 * then lets it go on and returns what it printed. A run that commits before
 * it can be stopped is tried again (up to 5 times, from a fresh database).
 *
 * @example
 * ```ts
 * await whileRunStopped({ config, db }, async () => {
 *   // the run is inside its transaction here
 * });
 * ```
 */
export async function whileRunStopped(
  options: { config: string; db: string; wrap?: string[] },
  fn: () => Promise<void>,
): Promise<CliResult> {
  const { db } = options;
  for (let attempt = 0; attempt < 5; attempt++) {
    const { stopped, ...result } = await stopRunWhen(
      { ...options, when: (pid) => inFirstTransaction(pid, db) },
      fn,
    );
    if (stopped) return result;
    for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(db + suffix).catch(() => {});
  }
  throw new Error("no run could be stopped inside its transaction in 5 attempts");
}
