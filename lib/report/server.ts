/**
 * The accounts a running MariaDB server defines, asked through its own
 * command-line client (`mariadb`), so that the socket and credentials come
 * from the client's usual option files (`~/.my.cnf`, `/etc/mysql/`), or from
 * the defaults file given.
 *
 * @module
 */

import type { Account } from "../format/account.ts";
import { parseAccountList } from "./accounts.ts";

/** The client could not be run or the query failed. */
export class ServerError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ServerError";
  }
}

/** The query: user accounts only, roles left out. Needs `SELECT` on `mysql.user`. */
export const ACCOUNTS_QUERY = "SELECT User, Host FROM mysql.user WHERE is_role <> 'Y'";

/** How to reach the server. */
export interface ClientOptions {
  /** The client program (default `mariadb`). */
  client: string;
  /** An option file for the client (`--defaults-extra-file`), or `""` for its defaults. */
  defaultsFile: string;
}

/**
 * Lists the server's accounts with `mariadb -N -B -e "SELECT User, Host ..."`.
 *
 * @example
 * ```ts
 * const accounts = await listServerAccounts({ client: "mariadb", defaultsFile: "" });
 * ```
 * @throws {ServerError} when the client cannot be run or fails.
 */
export async function listServerAccounts(options: ClientOptions): Promise<Account[]> {
  const args = [
    ...(options.defaultsFile ? [`--defaults-extra-file=${options.defaultsFile}`] : []),
    "--batch",
    "--skip-column-names",
    "--default-character-set=utf8mb4",
    "--execute",
    ACCOUNTS_QUERY,
  ];
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(options.client, { args, stdin: "null" }).output();
  } catch (e) {
    throw new ServerError(`Cannot run "${options.client}": ${(e as Error).message}`);
  }
  const stderr = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
  if (out.code !== 0) throw new ServerError(`"${options.client}" failed: ${stderr}`);
  return parseAccountList(new TextDecoder().decode(out.stdout), "mysql.user");
}
