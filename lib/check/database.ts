/**
 * The database file: where it is and who can read or write it.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
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
