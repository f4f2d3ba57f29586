/**
 * A throwaway `rsyslogd` (Debian's `rsyslog`) with its own configuration, PID
 * file, work directory and input socket in a temp dir, writing `user.*` to one
 * file per timestamp format; the real `logrotate` rotating those files; and a
 * way to send a program's `syslog()` calls (which go to `/dev/log`) to a test
 * socket instead, without touching the host's `/dev` or its syslog daemon.
 *
 * @module
 */

import { stopChild } from "./helpers.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { SERVER_TZ } from "./mariadb.ts";

const RSYSLOGD = "/usr/sbin/rsyslogd";
const LOGROTATE = "/usr/sbin/logrotate";

/** Whether `rsyslogd` can be started here. */
export const HAVE_RSYSLOG: boolean = existsSync(RSYSLOGD);

/** Whether `logrotate` can be run here. */
export const HAVE_LOGROTATE: boolean = existsSync(LOGROTATE);

/**
 * rsyslog's two file formats: `rfc3339` is `RSYSLOG_FileFormat` (Debian 12's
 * default, `2026-12-01T19:04:14.951832+01:00 vm ident: msg`), `traditional` is
 * `RSYSLOG_TraditionalFileFormat` (`Dec  1 19:04:14 vm ident: msg`: no year, no zone).
 */
export type SyslogFormat = "rfc3339" | "traditional";

const TEMPLATE: Record<SyslogFormat, string> = {
  rfc3339: "RSYSLOG_FileFormat",
  traditional: "RSYSLOG_TraditionalFileFormat",
};

/** How to run rsyslogd. */
export interface RsyslogOptions {
  /** The formats to write, each to its own file (default: both). */
  formats?: SyslogFormat[];
  /** The zone rsyslogd runs in: its timestamps are this wall time (default `SERVER_TZ`). */
  timeZone?: string;
}

/** A running rsyslogd. */
export interface Rsyslog {
  dir: string;
  /** The imuxsock socket: `logger -u SOCKET`, or `/dev/log` under `devLogWrap()`. */
  socket: string;
  pid: number;
  pidFile: string;
  /** Per format, the file it writes (`DIR/FORMAT/syslog`, alone in its folder). */
  files: Partial<Record<SyslogFormat, string>>;
  /** Sends SIGHUP and waits until rsyslogd has closed the files it had open. */
  hup(): Promise<void>;
  /** Waits until rsyslogd holds no file of its folders that is not one of `files`. */
  released(): Promise<void>;
}

/** What a command printed. */
export interface Printed {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command, with `input` on its standard input, and returns what it
 * printed; throws with its standard error when it fails.
 *
 * @example
 * ```ts
 * await run("logger", ["-u", "/tmp/x/log.sock", "-t", "other", "hello"]);
 * ```
 */
export async function run(cmd: string, args: string[], input?: Uint8Array): Promise<Printed> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(input);
    await writer.close();
  }
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  if (out.code !== 0) throw new Error(`${cmd} failed (${out.code}): ${decode(out.stderr)}`);
  return { stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/**
 * Waits until `check` holds, polling every 20 ms; throws naming `what` after `timeoutMs`.
 *
 * @example
 * ```ts
 * await waitFor(() => existsSync("/tmp/x/log.sock"), "the socket");
 * ```
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function configuration(dir: string, socket: string, files: Rsyslog["files"]): string {
  const actions = Object.entries(files).map(([format, file]) =>
    `user.* action(type="omfile" file="${file}" template="${TEMPLATE[format as SyslogFormat]}")`
  );
  return [
    // Debian's file settings; no rate limit (a burst of logins must not be dropped);
    // messages up to 64 KiB (the plugin's QUERY lines can be long).
    `global(workDirectory="${join(dir, "work")}" maxMessageSize="64k")`,
    `module(load="builtin:omfile" fileCreateMode="0640" dirCreateMode="0755")`,
    // Never the system socket (/dev/log): only the test's own.
    `module(load="imuxsock" SysSock.Use="off")`,
    `input(type="imuxsock" Socket="${socket}" RateLimit.Interval="0" CreatePath="off")`,
    ...actions,
    "",
  ].join("\n");
}

/**
 * Starts rsyslogd in the foreground (`-n`, so that the test's child is the
 * daemon itself), runs `fn` with it, and always stops it by its PID and removes
 * its files. Messages of facility `user` go to `files`; others are dropped.
 *
 * @example
 * ```ts
 * await withRsyslog({}, async (r) => {
 *   await logger(r.socket, "other", "hello");
 *   await waitForLines(r.files.rfc3339!, (lines) => lines.length > 0);
 * });
 * ```
 */
export async function withRsyslog(
  options: RsyslogOptions,
  fn: (rsyslog: Rsyslog) => Promise<void>,
): Promise<void> {
  if (!HAVE_RSYSLOG) throw new Error("rsyslogd not found: install rsyslog");
  const dir = await Deno.makeTempDir({ prefix: "conntracker-rsyslog-" });
  const socket = join(dir, "log.sock");
  const pidFile = join(dir, "rsyslogd.pid");
  const files: Rsyslog["files"] = {};
  for (const format of options.formats ?? ["rfc3339", "traditional"]) {
    await Deno.mkdir(join(dir, format));
    files[format] = join(dir, format, "syslog");
  }
  await Deno.mkdir(join(dir, "work"));
  const config = join(dir, "rsyslog.conf");
  await Deno.writeTextFile(config, configuration(dir, socket, files));
  let child: Deno.ChildProcess | undefined;
  try {
    child = new Deno.Command(RSYSLOGD, {
      args: ["-n", "-f", config, `-i${pidFile}`],
      env: { TZ: options.timeZone ?? SERVER_TZ },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    let gone = false;
    child.status.then(() => gone = true);
    await waitFor(() => gone || (existsSync(socket) && existsSync(pidFile)), "rsyslogd to start");
    if (gone) throw new Error(`rsyslogd did not start: ${await stderr}`);
    const pid = child.pid;
    const released = () =>
      waitFor(() => openFiles(pid, dir).every((f) => Object.values(files).includes(f)), "a HUP");
    await fn({
      dir,
      socket,
      pid,
      pidFile,
      files,
      hup: () => {
        Deno.kill(pid, "SIGHUP");
        return released();
      },
      released,
    });
  } finally {
    if (child) await stopChild(child);
    await Deno.remove(dir, { recursive: true });
  }
}

/** The files under `dir` that process `pid` has open. */
function openFiles(pid: number, dir: string): string[] {
  const out: string[] = [];
  for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      const target = Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`);
      if (target.startsWith(dir + "/")) out.push(target);
    } catch {
      // Closed meanwhile.
    }
  }
  return out;
}

/**
 * Sends one line as another program would, with the real `logger` (facility `user`).
 *
 * @example
 * ```ts
 * await logger("/tmp/x/log.sock", "other", "hello");
 * ```
 */
export async function logger(socket: string, tag: string, message: string): Promise<void> {
  await run("logger", ["-u", socket, "-t", tag, "-p", "user.info", "--", message]);
}

/**
 * Waits until the file's lines satisfy `done`, and returns them.
 *
 * @example
 * ```ts
 * await waitForLines("/tmp/x/rfc3339/syslog", (lines) => lines.some((l) => l.endsWith(": hello")));
 * ```
 */
export async function waitForLines(
  file: string,
  done: (lines: string[]) => boolean,
  timeoutMs = 10_000,
): Promise<string[]> {
  let lines: string[] = [];
  await waitFor(
    async () => {
      const text = await Deno.readTextFile(file).catch(() => "");
      lines = text.split("\n").filter((l) => l !== "");
      return done(lines);
    },
    `lines in ${file}`,
    timeoutMs,
  );
  return lines;
}

/** How logrotate rotates a file (Debian's rsyslog setup: `create`, HUP, `delaycompress`). */
export interface RotateOptions {
  /** `create`: rename, new file, then `postrotate` HUPs rsyslogd; or `copytruncate`. */
  method: "create" | "copytruncate";
  compress?: boolean;
  delaycompress?: boolean;
  /** How many rotated files to keep (default 4). */
  rotate?: number;
}

/**
 * Rotates one of rsyslogd's files now with the real logrotate (`-f`), with its
 * own configuration and state file in rsyslogd's folder; with `create`, waits
 * until the HUP has made rsyslogd close the renamed file.
 *
 * @example
 * ```ts
 * await logrotate(r, r.files.rfc3339!, { method: "create", compress: true, delaycompress: true });
 * ```
 */
export async function logrotate(
  rsyslog: Rsyslog,
  file: string,
  options: RotateOptions,
): Promise<void> {
  if (!HAVE_LOGROTATE) throw new Error("logrotate not found: install logrotate");
  const lines = [
    `${file} {`,
    `  rotate ${options.rotate ?? 4}`,
    "  missingok",
    options.method === "create" ? "  create 0640 root root" : "  copytruncate",
    ...(options.compress ? ["  compress"] : []),
    ...(options.delaycompress ? ["  delaycompress"] : []),
    ...(options.method === "create"
      ? ["  postrotate", `    kill -HUP $(cat ${rsyslog.pidFile})`, "  endscript"]
      : []),
    "}",
    "",
  ];
  const config = join(rsyslog.dir, "logrotate.conf");
  await Deno.writeTextFile(config, lines.join("\n"));
  await run(LOGROTATE, ["-f", "-s", join(rsyslog.dir, "logrotate.state"), config]);
  if (options.method === "create") await rsyslog.released();
}

/**
 * A `wrap` for `withMariaDb()` (or any command): runs the command in its own
 * mount namespace where `/dev/log` is `socket`, so that its `syslog()` calls
 * reach the test's daemon. `/dev` there is an overlay of the host's `/dev` with
 * its upper layer in `dir` (the host's `/dev` is never written); `/dev/pts`
 * and `/dev/shm` are not mounted in it. The socket's own folder need not be
 * open to the command's user. Needs root.
 *
 * @example
 * ```ts
 * const wrap = await devLogWrap(r.socket, "/tmp/x");
 * await withMariaDb({ events: "CONNECT", outputType: "syslog", wrap }, async (server) => {});
 * ```
 */
export async function devLogWrap(socket: string, dir: string): Promise<string[]> {
  const upper = join(dir, "dev-upper");
  const work = join(dir, "dev-work");
  for (const path of [upper, work, socket]) {
    // mount's option syntax has no quoting for these.
    if (/[,:\\'\s]/.test(path)) throw new Error(`Path unusable in a mount option: "${path}"`);
  }
  await Deno.mkdir(upper, { recursive: true });
  await Deno.mkdir(work, { recursive: true });
  // The mount point of the socket, in the overlay's own layer.
  await Deno.writeTextFile(join(upper, "log"), "");
  const script = [
    `mount -t overlay overlay -o lowerdir=/dev,upperdir=${upper},workdir=${work} /dev`,
    `mount --bind '${socket}' /dev/log`,
    'exec "$0" "$@"',
  ].join(" && ");
  return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script];
}
