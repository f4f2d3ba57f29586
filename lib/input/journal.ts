/**
 * The systemd journal as a byte source: the plugin's entries, read with the
 * real `journalctl` (`-o json`) from a cursor on, handed on as blocks of
 * syslog lines in RFC 3339 form (`2026-12-01T18:19:49.861790+00:00 vm
 * mysql-server_auditing:  vm,web,127.0.0.1,…`), so that the syslog line format
 * (`lib/format/syslog.ts`) reads them as it reads rsyslog's files.
 *
 * `--after-cursor` skips the first entry left when the cursor's own entry is
 * gone (vacuumed), so the reading starts `--cursor` and drops the first entry
 * only when it is the cursor's.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { SourceError } from "./file.ts";

/** Where the entries come from, and from where on. */
export interface JournalSource {
  /** The `journalctl` to run. */
  journalctl: string;
  /** Journal files (`--file`, a glob allowed), or `""`. */
  file: string;
  /** A journal directory (`--directory`), or `""`: with neither, the system journal. */
  directory: string;
  /** The plugin's ident (`SYSLOG_IDENTIFIER`). */
  ident: string;
  /** The cursor of the last entry read before, if any. */
  cursor?: string;
}

/** What reading the journal found. */
export interface JournalRead {
  /** Entries handed on (the cursor's own not counted). */
  entries: number;
  /** Bytes of the lines handed on. */
  bytes: number;
  /** The cursor of the last entry handed on, or the one given when there was none. */
  cursor?: string;
  /**
   * When a cursor was given and its entry is gone (vacuumed, or the journal
   * replaced): the cursor of the first entry read instead, and whether
   * entries may be missing between the two (the sequence numbers do not
   * follow on). Nothing after the cursor: no gap.
   */
  gap?: { first: string; missing: boolean };
}

/** The fields read of each entry (`__CURSOR` and the journal's own times always come too). */
const FIELDS = "MESSAGE,_SOURCE_REALTIME_TIMESTAMP,_HOSTNAME,SYSLOG_IDENTIFIER";

/** A block is handed on once its lines hold this many bytes. */
const BLOCK_BYTES = 64 << 10;

/** The name of the journal read, for messages. */
export function journalName(source: JournalSource): string {
  return source.file || source.directory || "the system journal";
}

/** A journal field: text, or bytes (`-o json` gives an array of numbers for binary values). */
function text(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((b) => typeof b === "number")) {
    return Buffer.from(value).toString("utf8");
  }
  if (Array.isArray(value)) return text(value[0]);
  return undefined;
}

/** RFC 3339 in UTC with microseconds, from epoch microseconds. */
function rfc3339(us: bigint): string {
  const ms = Number(us / 1000n);
  const micros = String(us % 1000n).padStart(3, "0");
  return new Date(ms).toISOString().slice(0, -1) + micros + "+00:00";
}

/** A cursor's sequence number id and number (`s=…;i=…`), if it has them. */
function sequence(cursor: string): { id: string; n: bigint } | undefined {
  const id = /(?:^|;)s=([0-9a-f]+)/.exec(cursor)?.[1];
  const n = /(?:^|;)i=([0-9a-f]+)/.exec(cursor)?.[1];
  return id && n ? { id, n: BigInt("0x" + n) } : undefined;
}

/**
 * The line of one entry (`journalctl -o json`) as a syslog line, its time the
 * time it was sent (`_SOURCE_REALTIME_TIMESTAMP`, else when journald received
 * it); `undefined` for an entry without a message or a time.
 *
 * @example
 * ```ts
 * entryLine({
 *   __REALTIME_TIMESTAMP: "1764615600000020", _SOURCE_REALTIME_TIMESTAMP: "1764615600000000",
 *   _HOSTNAME: "vm", SYSLOG_IDENTIFIER: "mysql-server_auditing",
 *   MESSAGE: " vm,app,localhost,5,0,CONNECT,,,0",
 * });
 * // "2025-12-01T19:00:00.000000+00:00 vm mysql-server_auditing:  vm,app,localhost,5,0,CONNECT,,,0"
 * ```
 */
export function entryLine(entry: Record<string, unknown>): string | undefined {
  const message = text(entry.MESSAGE);
  const at = text(entry._SOURCE_REALTIME_TIMESTAMP) ?? text(entry.__REALTIME_TIMESTAMP);
  if (message === undefined || at === undefined || !/^\d+$/.test(at)) return undefined;
  const host = text(entry._HOSTNAME) || "-";
  const ident = text(entry.SYSLOG_IDENTIFIER) || "-";
  return `${rfc3339(BigInt(at))} ${host} ${ident}: ${message.replace(/[\r\n]/g, " ")}`;
}

/**
 * Reads the plugin's entries after `source.cursor` with `journalctl -o json`
 * and calls `onBlock` in order with blocks of their lines (UTF-8 bytes of
 * whole lines, each ending in `\n`, as `readBlocks` gives them) and the
 * cursor of the block's last entry.
 *
 * @example
 * ```ts
 * const source = { journalctl: "journalctl", file: "/tmp/x/audit.journal", directory: "", ident: "mysql-server_auditing" };
 * const read = await readJournal(source, (block, cursor) => console.log(block, cursor));
 * read.entries;
 * ```
 * @throws {SourceError} when `journalctl` cannot be run or fails; the blocks handed on before stand.
 */
export async function readJournal(
  source: JournalSource,
  onBlock: (block: Uint8Array, cursor: string) => void,
): Promise<JournalRead> {
  const name = journalName(source);
  // Not -q: it would hush the hint that this user sees only its own journal.
  const args = ["-o", "json", "--all", "--no-pager", `--output-fields=${FIELDS}`];
  if (source.file) args.push("--file", source.file);
  if (source.directory) args.push("--directory", source.directory);
  if (source.cursor) args.push("--cursor", source.cursor);
  args.push(`SYSLOG_IDENTIFIER=${source.ident}`);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(source.journalctl, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { SYSTEMD_COLORS: "0", LC_ALL: "C" },
    }).spawn();
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message;
    throw new SourceError(name, `journalctl "${source.journalctl}" cannot be run: ${why}`, {
      problem: "other",
      cause: e,
    });
  }
  const stderr = new Response(child.stderr).text();
  const read: JournalRead = { entries: 0, bytes: 0, cursor: source.cursor };
  let first = true;
  const encoder = new TextEncoder();
  let lines: string[] = [];
  let size = 0;
  const flush = () => {
    if (lines.length === 0) return;
    onBlock(encoder.encode(lines.join("")), read.cursor!);
    lines = [];
    size = 0;
  };
  const take = (json: string) => {
    const entry = JSON.parse(json) as Record<string, unknown>;
    const cursor = text(entry.__CURSOR);
    if (cursor === undefined) return;
    if (first && source.cursor) {
      first = false;
      if (cursor === source.cursor) return;
      read.gap = { first: cursor, missing: true };
    }
    first = false;
    const line = entryLine(entry);
    read.cursor = cursor;
    if (line === undefined) return;
    const bytes = Buffer.byteLength(line, "utf8") + 1;
    read.entries++;
    read.bytes += bytes;
    lines.push(line + "\n");
    size += bytes;
    if (size >= BLOCK_BYTES) flush();
  };
  try {
    let rest = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = parts.pop()!;
      for (const part of parts) if (part !== "") take(part);
    }
    if (rest.trim() !== "") take(rest);
    flush();
  } catch (e) {
    flush();
    await child.status;
    if (e instanceof SyntaxError) {
      throw new SourceError(name, `journalctl printed what is not JSON: ${e.message}`, {
        problem: "other",
      });
    }
    throw e;
  }
  const status = await child.status;
  const said = await stderr;
  const problem = said.trim().split("\n").filter((l) => l !== "").at(-1);
  if (said.includes("not seeing messages from other users")) {
    throw new SourceError(
      name,
      "journalctl shows this user only its own entries: run conntracker as root, or as a user " +
        "in the group systemd-journal or adm",
      { problem: "permission denied" },
    );
  }
  if (!status.success) {
    throw new SourceError(
      name,
      `journalctl failed (exit ${status.code}): ${problem ?? "no message"}`,
      { problem: "other" },
    );
  }
  if (read.gap) read.gap.missing = !(await followsOn(source, args.slice(0, -1)));
  return read;
}

/**
 * Whether the journal's first entry after the cursor's (of any program) is
 * the very next one (by sequence number): then the cursor's own entry was
 * vacuumed alone and nothing after it is missing.
 */
async function followsOn(source: JournalSource, args: string[]): Promise<boolean> {
  const was = sequence(source.cursor!);
  if (!was) return false;
  const child = new Deno.Command(source.journalctl, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let line = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    line += value;
  }
  await reader.cancel();
  try {
    child.kill();
  } catch {
    // It had finished.
  }
  await child.status;
  const first = line.split("\n")[0];
  if (first === "") return true;
  const cursor = text((JSON.parse(first) as Record<string, unknown>).__CURSOR);
  const next = cursor === undefined ? undefined : sequence(cursor);
  return next !== undefined && next.id === was.id && next.n === was.n + 1n;
}
