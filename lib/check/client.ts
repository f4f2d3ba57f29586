/**
 * What `check` asks the server, through its own command-line client, as
 * `report --accounts-from-server` does (`MariadbClient`, `MariadbDefaultsFile`):
 * the audit plugin's variables, the data directory, the zones, and the
 * offset of the server's system clock now.
 *
 * @module
 */

import type { ClientOptions } from "../report/server.ts";

/** The query: variables as name-value rows, then the system clock's offset. */
export const VARIABLES_QUERY = [
  "SET SESSION time_zone = 'SYSTEM';",
  "SELECT LOWER(VARIABLE_NAME), VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES",
  "WHERE VARIABLE_NAME LIKE 'SERVER\\_AUDIT\\_%'",
  "OR VARIABLE_NAME IN ('DATADIR', 'SYSTEM_TIME_ZONE', 'TIME_ZONE', 'PID_FILE', 'VERSION');",
  "SELECT 'system_offset_seconds', TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW());",
].join(" ");

/** The server's answer, or why there is none. */
export type ServerAnswer =
  | { ok: true; variables: Map<string, string> }
  | { ok: false; problem: string };

/**
 * Asks the server for its variables with `mariadb --batch -e ...`.
 *
 * @example
 * ```ts
 * const answer = await serverVariables({ client: "mariadb", defaultsFile: "" });
 * if (answer.ok) answer.variables.get("server_audit_logging"); // "ON"
 * ```
 */
export async function serverVariables(options: ClientOptions): Promise<ServerAnswer> {
  const args = [
    ...(options.defaultsFile ? [`--defaults-extra-file=${options.defaultsFile}`] : []),
    "--batch",
    "--skip-column-names",
    "--raw",
    "--execute",
    VARIABLES_QUERY,
  ];
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(options.client, { args, stdin: "null" }).output();
  } catch (e) {
    return { ok: false, problem: `cannot run "${options.client}": ${(e as Error).message}` };
  }
  if (out.code !== 0) {
    const stderr = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    return { ok: false, problem: `"${options.client}" failed: ${stderr}` };
  }
  const variables = new Map<string, string>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const tab = line.indexOf("\t");
    if (tab > 0) variables.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return { ok: true, variables };
}
