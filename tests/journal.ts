/**
 * systemd journals the tests make themselves, without the host's journald:
 * a journal file written by `systemd-journal-remote` from entries the test
 * chooses (any time stamps, appended to in several runs), or a real
 * `systemd-journald` in its own mount namespace that a real server logs to;
 * both read back with the real `journalctl`.
 *
 * @module
 */

import { stopChild } from "./helpers.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { run, waitFor } from "./rsyslog.ts";

const JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote";
const JOURNALD = "/lib/systemd/systemd-journald";

/** Whether `journalctl` can be run here. */
export const HAVE_JOURNALCTL: boolean = existsSync("/usr/bin/journalctl") ||
  existsSync("/bin/journalctl");

/** Whether journal files can be written here (`systemd-journal-remote`, `journalctl`). */
export const HAVE_JOURNAL_REMOTE: boolean = existsSync(JOURNAL_REMOTE) && HAVE_JOURNALCTL;

/** Whether a journald of the tests' own can be started here (`systemd`, `journalctl`, `unshare`). */
export const HAVE_JOURNALD: boolean = existsSync(JOURNALD) && HAVE_JOURNALCTL &&
  existsSync("/etc/machine-id") && existsSync("/usr/bin/unshare");

/** The audit plugin's default `server_audit_syslog_ident`. */
export const PLUGIN_IDENT = "mysql-server_auditing";

/** One entry to write: what the journal would hold for one syslog() call. */
export interface JournalEntry {
  /** What follows `ident:` and one space in the syslog line, e.g. ` vm,app,localhost,5,0,CONNECT,,,0`. */
  message: string;
  /** When it was sent (`_SOURCE_REALTIME_TIMESTAMP`), epoch microseconds. */
  sentUs: number;
  /** `SYSLOG_IDENTIFIER` (default `PLUGIN_IDENT`). */
  identifier?: string;
  /** More fields (`_PID`, `SYSLOG_TIMESTAMP`...), written as they are. */
  fields?: Record<string, string>;
}

/** The boot of written entries (journalctl orders entries of one boot by their monotonic time). */
const BOOT_ID = "c0ffee00c0ffee00c0ffee00c0ffee00";
const BOOTED_US = Date.UTC(2000, 0, 1) * 1000;

/**
 * The journal export format (`journalctl -o export`) of the entries, as a
 * syslog message from `mariadbd` on host `vm` would be stored by journald:
 * received 20 µs after it was sent, in a boot that began in 2000 (so that
 * monotonic time grows with the send time, also across appends). Values with
 * a newline use the format's binary form.
 *
 * @example
 * ```ts
 * exportStream([{ message: " vm,app,localhost,5,0,CONNECT,,,0", sentUs: 1764615600000000 }]);
 * ```
 */
export function exportStream(entries: JournalEntry[]): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const fields: Record<string, string> = {
      __REALTIME_TIMESTAMP: String(e.sentUs + 20),
      __MONOTONIC_TIMESTAMP: String(Math.max(0, e.sentUs - BOOTED_US)),
      _BOOT_ID: BOOT_ID,
      _HOSTNAME: "vm",
      _TRANSPORT: "syslog",
      _COMM: "mariadbd",
      _SOURCE_REALTIME_TIMESTAMP: String(e.sentUs),
      PRIORITY: "6",
      SYSLOG_FACILITY: "1",
      SYSLOG_IDENTIFIER: e.identifier ?? PLUGIN_IDENT,
      MESSAGE: e.message,
      ...e.fields,
    };
    for (const [name, value] of Object.entries(fields)) {
      const data = encoder.encode(value);
      if (!value.includes("\n")) {
        parts.push(encoder.encode(`${name}=`), data, encoder.encode("\n"));
        continue;
      }
      const size = new Uint8Array(8);
      new DataView(size.buffer).setBigUint64(0, BigInt(data.length), true);
      parts.push(encoder.encode(`${name}\n`), size, data, encoder.encode("\n"));
    }
    parts.push(encoder.encode("\n"));
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
}

/**
 * Appends entries to a journal file (its name must end in `.journal`) with
 * the real `systemd-journal-remote`, creating it if needed; throws unless it
 * wrote them all (it skips an entry it finds invalid and still exits 0) to
 * that file: one whose last entry is later than the clock (is "from the
 * future") it renames to `NAME@….journal~` and replaces with a new one.
 *
 * @example
 * ```ts
 * await appendJournal("/tmp/x/audit.journal", [{ message: " vm,a,localhost,1,0,CONNECT,,,0", sentUs: 1764615600000000 }]);
 * ```
 */
export async function appendJournal(file: string, entries: JournalEntry[]): Promise<void> {
  if (!HAVE_JOURNAL_REMOTE) {
    throw new Error("systemd-journal-remote not found: install systemd-journal-remote");
  }
  const { stderr } = await run(JOURNAL_REMOTE, [`--output=${file}`, "-"], exportStream(entries));
  const replaced = stderr.includes("renaming and replacing");
  if (replaced || !stderr.includes(`Finishing after writing ${entries.length} entries`)) {
    throw new Error(`systemd-journal-remote did not write ${entries.length} entries: ${stderr}`);
  }
}

/** One entry as `journalctl -o json` prints it: strings, byte arrays (not UTF-8), or arrays of these (a repeated field). */
export type JournalRecord = Record<string, string | number[] | (string | number[])[]>;

/** Where and from where to read. */
export interface ReadOptions {
  /** A journal file (`--file`), or a folder of them (`--directory`). */
  file?: string;
  directory?: string;
  /** `--after-cursor`: beware, it skips one unseen entry when the cursor's entry is gone. */
  afterCursor?: string;
  /** `--cursor`: from the cursor's entry on, or from the next one when it is gone. */
  cursor?: string;
  /** `FIELD=value` matches (default: the plugin's ident). */
  matches?: string[];
}

/**
 * Reads entries with the real `journalctl -o json --all` (without `--all` a
 * field longer than 4096 bytes is printed as `null`).
 *
 * @example
 * ```ts
 * const entries = await readJournal({ file: "/tmp/x/audit.journal" });
 * entries[0].MESSAGE; // " vm,a,localhost,1,0,CONNECT,,,0"
 * ```
 */
export async function readJournal(options: ReadOptions): Promise<JournalRecord[]> {
  const args = ["--no-pager", "-q", "-o", "json", "--all"];
  if (options.file) args.push("--file", options.file);
  if (options.directory) args.push("--directory", options.directory);
  if (options.afterCursor) args.push("--after-cursor", options.afterCursor);
  if (options.cursor) args.push("--cursor", options.cursor);
  args.push(...(options.matches ?? [`SYSLOG_IDENTIFIER=${PLUGIN_IDENT}`]));
  const { stdout } = await run("journalctl", args);
  return stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

/** A running journald of the tests' own. */
export interface Journald {
  dir: string;
  /** Its syslog socket (`/run/systemd/journal/dev-log` inside): for `devLogWrap()` or `logger -u`. */
  devLog: string;
  /** Its journal folder, for `journalctl --directory`: `MACHINE_ID/system.journal` and archives. */
  directory: string;
  pid: number;
  /** Archives the current file and starts a new one (SIGUSR2, as `journalctl --rotate`). */
  rotate(): Promise<void>;
  /** The archived files (`system@….journal`). */
  archived(): string[];
}

const JOURNALD_CONF = `[Journal]
Storage=volatile
ReadKMsg=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
RateLimitIntervalSec=0
RateLimitBurst=0
`;

/**
 * Starts the real `systemd-journald` in its own mount namespace (a private
 * tmpfs on `/run`, its sockets and journal files bound to folders in a temp
 * dir, its own settings: volatile storage, no kernel log, no rate limit), runs
 * `fn` with it, and always stops it by its PID and removes its files. Needs root.
 *
 * @example
 * ```ts
 * await withJournald(async (j) => {
 *   await logger(j.devLog, "other", "hello");
 * });
 * ```
 */
export async function withJournald(fn: (journald: Journald) => Promise<void>): Promise<void> {
  if (!HAVE_JOURNALD) {
    throw new Error("systemd-journald cannot run here: it needs systemd, /etc/machine-id, unshare");
  }
  const dir = await Deno.makeTempDir({ prefix: "conntracker-journald-" });
  const sockets = join(dir, "sockets");
  const directory = join(dir, "journal");
  const conf = join(dir, "journald.conf");
  await Deno.mkdir(sockets);
  await Deno.mkdir(directory);
  await Deno.writeTextFile(conf, JOURNALD_CONF);
  const script = [
    "mount -t tmpfs tmpfs /run",
    "mkdir -p /run/systemd/journal /run/log/journal /run/systemd/journald.conf.d",
    `mount --bind '${sockets}' /run/systemd/journal`,
    `mount --bind '${directory}' /run/log/journal`,
    // A drop-in under /run is read after /etc/systemd/journald.conf and overrides it.
    `cp '${conf}' /run/systemd/journald.conf.d/zz-conntracker-tests.conf`,
    `exec ${JOURNALD}`,
  ].join(" && ");
  const machineId = Deno.readTextFileSync("/etc/machine-id").trim();
  let child: Deno.ChildProcess | undefined;
  try {
    child = new Deno.Command("unshare", {
      args: ["--mount", "--propagation", "private", "--", "sh", "-c", script],
      // Its own messages on its stderr, never in the host's kernel log.
      env: { SYSTEMD_LOG_TARGET: "console" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    let gone = false;
    child.status.then(() => gone = true);
    const devLog = join(sockets, "dev-log");
    const current = join(directory, machineId, "system.journal");
    await waitFor(() => gone || (existsSync(devLog) && existsSync(current)), "journald to start");
    if (gone) throw new Error(`systemd-journald did not start: ${await stderr}`);
    const pid = child.pid;
    const archived = () =>
      [...Deno.readDirSync(join(directory, machineId))].map((f) =>
        join(directory, machineId, f.name)
      )
        .filter((f) => f !== current);
    await fn({
      dir,
      devLog,
      directory,
      pid,
      rotate: async () => {
        const before = archived().length;
        Deno.kill(pid, "SIGUSR2");
        await waitFor(
          () => archived().length > before && existsSync(current),
          "journald to rotate",
        );
      },
      archived,
    });
  } finally {
    if (child) await stopChild(child);
    await Deno.remove(dir, { recursive: true });
  }
}
