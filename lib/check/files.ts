/**
 * The audit files as they are on disk: the live file growing (not a renamed
 * one), the file the server process really has open, and whether the user
 * conntracker runs as can read them all.
 *
 * @module
 */

import { basename, dirname } from "node:path";
import { processUser } from "../input/user.ts";
import { type Finding, finding } from "./finding.ts";
import type { ListedFile } from "./rotation.ts";

const REOPEN = "SET GLOBAL server_audit_logging = OFF; SET GLOBAL server_audit_logging = ON " +
  "(the plugin reopens its file), then fix what renamed it (see logrotate)";

/**
 * Whether the live file is the one written: a rotation modified after it
 * means the plugin writes a renamed file.
 *
 * @example
 * ```ts
 * liveFindings("/a/server_audit.log", undefined, []); // an error: the file is missing
 * ```
 */
export function liveFindings(
  livePath: string,
  live: ListedFile | undefined,
  rotated: ListedFile[],
): Finding[] {
  if (!live) {
    return [
      finding(
        "files",
        "error",
        `The plugin's file ${livePath} does not exist`,
        REOPEN,
      ),
    ];
  }
  const newer = rotated.filter((f) => !f.path.endsWith(".gz") && f.mtimeMs > live.mtimeMs + 1000);
  if (newer.length > 0) {
    return [
      finding(
        "files",
        "error",
        `${newer.map((f) => f.path).join(", ")} changed after the live file ${livePath} ` +
          `(${new Date(live.mtimeMs).toISOString()}): the plugin writes a renamed file`,
        REOPEN,
      ),
    ];
  }
  return [finding("files", "ok", `The live file ${livePath} is the newest audit file`)];
}

/**
 * Which audit files the server process has open, from `/proc/PID/fd`: a
 * renamed or deleted one is an error. Nothing when the process cannot be
 * looked at (another host, another user).
 *
 * @example
 * ```ts
 * await openFileFindings("/run/mysqld/mysqld.pid", "/var/lib/mysql/server_audit.log");
 * ```
 */
export async function openFileFindings(pidFile: string, livePath: string): Promise<Finding[]> {
  let links: string[];
  try {
    const pid = Number((await Deno.readTextFile(pidFile)).trim());
    if (!(pid > 0)) return [];
    links = [];
    for await (const e of Deno.readDir(`/proc/${pid}/fd`)) {
      links.push(await Deno.readLink(`/proc/${pid}/fd/${e.name}`).catch(() => ""));
    }
  } catch {
    return [];
  }
  const dir = dirname(livePath);
  const audit = links.filter((l) =>
    dirname(l) === dir && basename(l).startsWith(basename(livePath))
  );
  const deleted = audit.filter((l) => l.endsWith(" (deleted)"));
  if (deleted.length > 0) {
    return [
      finding(
        "files",
        "error",
        `The server writes its audit log into a deleted file (${deleted[0]}): every login is ` +
          "lost until it reopens",
        REOPEN,
      ),
    ];
  }
  const renamed = audit.filter((l) => l !== livePath);
  if (renamed.length > 0) {
    return [
      finding(
        "files",
        "error",
        `The server has ${renamed[0]} open, not ${livePath}: it writes a renamed file`,
        REOPEN,
      ),
    ];
  }
  return audit.length > 0 ? [finding("files", "ok", `The server has ${livePath} open`)] : [];
}

/**
 * Whether this user can read each audit file.
 *
 * @example
 * ```ts
 * await readableFindings(["/var/lib/mysql/server_audit.log"]);
 * ```
 */
export async function readableFindings(paths: string[]): Promise<Finding[]> {
  const unreadable: string[] = [];
  for (const path of paths) {
    try {
      (await Deno.open(path, { read: true })).close();
    } catch (e) {
      if (e instanceof Deno.errors.PermissionDenied) unreadable.push(path);
    }
  }
  if (unreadable.length === 0) {
    return [finding("files", "ok", `${processUser()} can read all ${paths.length} audit files`)];
  }
  return [
    finding(
      "files",
      "error",
      `${processUser()} cannot read ${unreadable.join(", ")}: they are never counted`,
      "run conntracker as root or as a user in the group of the audit files (mysql); the " +
        "plugin creates them mode 0660",
    ),
  ];
}
