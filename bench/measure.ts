/**
 * Measuring a command: wall time and peak RSS of one run, and, under
 * `strace`, which audit files a run opened and how many bytes it read from
 * them.
 *
 * @module
 */

/** A command to run: the program, its arguments, and where. */
export interface CommandSpec {
  cmd: string;
  args: string[];
  cwd?: string;
}

/** One run's cost. */
export interface Measured {
  seconds: number;
  /** Peak resident set size (VmHWM, polled from /proc every 5 ms), MB. */
  rssMb: number;
}

/** A measured command exited with a code other than 0. */
export class CommandFailedError extends Error {
  /** Creates the error. */
  constructor(spec: CommandSpec, code: number, stderr: string) {
    super(`Command "${[spec.cmd, ...spec.args].join(" ")}" exited with ${code}: ${stderr.trim()}`);
    this.name = "CommandFailedError";
  }
}

/**
 * Runs a command once (stdout discarded), returning its wall time and peak RSS.
 *
 * @example
 * ```ts
 * const { seconds, rssMb } = await measure({ cmd: "true", args: [] });
 * ```
 * @throws {CommandFailedError} when it exits with a code other than 0.
 */
export async function measure(spec: CommandSpec): Promise<Measured> {
  const started = performance.now();
  const child = new Deno.Command(spec.cmd, {
    args: spec.args,
    cwd: spec.cwd,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let peakKb = 0;
  let done = false;
  const output = child.output().then((out) => {
    done = true;
    return out;
  });
  while (!done) {
    try {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {
      // Gone already.
    }
    await Promise.race([output, new Promise((r) => setTimeout(r, 5))]);
  }
  const out = await output;
  const seconds = (performance.now() - started) / 1000;
  if (out.code !== 0) {
    throw new CommandFailedError(spec, out.code, new TextDecoder().decode(out.stderr));
  }
  return { seconds, rssMb: peakKb / 1024 };
}

/**
 * The median of some numbers.
 *
 * @example
 * ```ts
 * median([3, 1, 2]); // 2
 * ```
 */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** What a run did to the files of one directory, as `strace` saw it. */
export interface FileAccess {
  /** Distinct files in the directory opened. */
  opened: number;
  /** Bytes read from them (read, pread64, readv, preadv). */
  bytes: number;
}

/** Whether `strace` can be run here. */
export async function haveStrace(): Promise<boolean> {
  try {
    const out = await new Deno.Command("strace", { args: ["-V"], stdout: "null", stderr: "null" })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * Counts, from `strace -y` output (one thread's, or several threads' whole
 * lines), the files under `dir` opened and the
 * bytes read from them.
 *
 * @example
 * ```ts
 * countFileAccess(
 *   'openat(AT_FDCWD, "/l/a", O_RDONLY) = 3</l/a>\nread(3</l/a>, "x"..., 8192) = 8192\n',
 *   "/l",
 * ); // { opened: 1, bytes: 8192 }
 * ```
 */
export function countFileAccess(trace: string, dir: string): FileAccess {
  const prefix = dir.endsWith("/") ? dir : dir + "/";
  const opened = new Set<string>();
  let bytes = 0;
  for (const line of trace.split("\n")) {
    const open = /\bopenat\(.*\) = \d+<([^>]*)>$/.exec(line);
    if (open) {
      if (open[1].startsWith(prefix)) opened.add(open[1]);
      continue;
    }
    const read = /\b(?:read|pread64|readv|preadv2?)\(\d+<([^>]*)>.* = (\d+)$/.exec(line);
    if (read && read[1].startsWith(prefix)) bytes += Number(read[2]);
  }
  return { opened: opened.size, bytes };
}

/**
 * Runs a command once under `strace -f -y` and returns what it did to the
 * files under `dir`. Not timed: tracing slows a run down many times.
 *
 * @example
 * ```ts
 * await traceFileAccess({ cmd: "cat", args: ["/etc/hostname"] }, "/etc"); // { opened: 1, … }
 * ```
 * @throws {CommandFailedError} when it exits with a code other than 0.
 */
export async function traceFileAccess(spec: CommandSpec, dir: string): Promise<FileAccess> {
  const logs = await Deno.makeTempDir({ prefix: "conntracker-bench-strace-" });
  try {
    // One log per thread (-ff): no system call is split across lines.
    const traced: CommandSpec = {
      cmd: "strace",
      args: [
        "-ff",
        "-qq",
        "-y",
        "-e",
        "trace=openat,read,pread64,readv,preadv,preadv2",
        "-o",
        `${logs}/trace`,
        spec.cmd,
        ...spec.args,
      ],
      cwd: spec.cwd,
    };
    await measure(traced);
    let trace = "";
    for await (const entry of Deno.readDir(logs)) {
      trace += await Deno.readTextFile(`${logs}/${entry.name}`);
    }
    return countFileAccess(trace, dir);
  } finally {
    await Deno.remove(logs, { recursive: true });
  }
}
