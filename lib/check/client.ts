/**
 * What `check` asks the server, through its own command-line client, as
 * `report --accounts-from-server` does (`MariadbClient`, `MariadbDefaultsFile`):
 * the audit plugin's variables, the data directory, the zones, and the
 * offset of the server's system clock now.
 *
 * @module
 */

import {
  type ClientOptions,
  runClient,
  ServerError,
  unescapeBatch,
} from "../input/mariadb_client.ts";

/** The query: variables as name-value rows, then the system clock's offset. */
const VARIABLES_QUERY = [
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
 * Asks the server for its variables (lower-case names).
 *
 * @example
 * ```ts
 * const answer = await serverVariables({ client: "mariadb", defaultsFile: "" });
 * if (answer.ok) answer.variables.get("server_audit_logging"); // "ON"
 * ```
 */
export async function serverVariables(options: ClientOptions): Promise<ServerAnswer> {
  let text: string;
  try {
    text = await runClient({ ...options, query: VARIABLES_QUERY });
  } catch (e) {
    if (e instanceof ServerError) return { ok: false, problem: e.message };
    throw e;
  }
  const variables = new Map<string, string>();
  for (const line of text.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab > 0) {
      variables.set(unescapeBatch(line.slice(0, tab)), unescapeBatch(line.slice(tab + 1)));
    }
  }
  return { ok: true, variables };
}
