/**
 * The database file: where it is and who can read or write it.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { LockedError, type StoreError } from "../store/database.ts";
import { type Finding, finding } from "./finding.ts";

/** What {@link databaseFindings} looks at. */
export interface DatabaseInput {
  sqlitePath: string;
  /** The server's data directory, when known. */
  datadir?: string;
}

/**
 * The findings about `SqlitePath`.
 *
 * @example
 * ```ts
 * await databaseFindings({ sqlitePath: "/var/lib/conntracker/audit.sqlite" });
 * ```
 */
export async function databaseFindings(input: DatabaseInput): Promise<Finding[]> {
  const path = resolve(input.sqlitePath);
  const out: Finding[] = [];
  let info: Deno.FileInfo | undefined;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      return [finding("database", "error", `${path} cannot be examined: ${(e as Error).message}`)];
    }
  }
  if (!info) {
    const dirThere = await Deno.stat(dirname(path)).then((i) => i.isDirectory, () => false);
    return [
      dirThere
        ? finding("database", "warn", `${path} does not exist yet`, "run conntracker once")
        : finding(
          "database",
          "error",
          `The folder of ${path} does not exist: no run can write the database`,
          `create it (install -d -m 0750 ${dirname(path)}), owned by the user conntracker runs as`,
        ),
    ];
  }
  const mode = (info.mode ?? 0) & 0o777;
  const octal = mode.toString(8).padStart(4, "0");
  if (mode & 0o002) {
    out.push(
      finding(
        "database",
        "error",
        `${path} is mode ${octal}: anyone can change which accounts look used`,
        `chmod 0640 ${path}`,
      ),
    );
  } else if (mode & 0o004) {
    out.push(
      finding(
        "database",
        "warn",
        `${path} is mode ${octal}: every local user can read the account names`,
        `chmod 0640 ${path}`,
      ),
    );
  } else out.push(finding("database", "ok", `${path} is mode ${octal}`));
  const datadir = input.datadir && resolve(input.datadir);
  if (datadir && (path + "/").startsWith(datadir.replace(/\/?$/, "/"))) {
    out.push(
      finding(
        "database",
        "warn",
        `${path} is inside the server's data directory ${datadir} (the old tool's default): ` +
          "backups and restores of the data directory take it along, and AuditLogPath there " +
          "lists it",
        "move it to /var/lib/conntracker/ (SqlitePath) with its -wal and -shm files",
      ),
    );
  }
  return out;
}

/**
 * The finding for a database that is there but cannot be read: an error, so
 * that `check` says it (exit 5) instead of failing.
 *
 * @example
 * ```ts
 * import { StoreError } from "../store/database.ts";
 * unreadableDatabaseFinding(
 *   new StoreError("/var/lib/conntracker/audit.sqlite", "Database file is not a valid SQLite database"),
 * ).severity; // "error"
 * ```
 */
export function unreadableDatabaseFinding(e: StoreError): Finding {
  const fix = e instanceof LockedError
    ? "another process holds it: look for a stuck run (ps -C conntracker), then check again"
    : /not a valid SQLite/.test(e.message)
    ? `SqlitePath must name conntracker's database: restore ${e.path} from a backup, or move ` +
      "it away (the next run starts a new one; the logins it held are then forgotten)"
    : /permission denied/.test(e.message)
    ? "run check as the user the timer runs conntracker as, or as root"
    : undefined;
  return finding("database", "error", `${e.path}: ${e.message}`, fix);
}
