/**
 * The accounts a running MariaDB server defines, asked through its own
 * command-line client (`mariadb`), so that the socket and credentials come
 * from the client's usual option files (`~/.my.cnf`, `/etc/mysql/`), or from
 * the defaults file given. The same call tells which account that login is
 * (`CURRENT_USER()`), how the log shows it (`USER()`) and whether the server
 * resolves client names (`@@skip_name_resolve`).
 *
 * @module
 */

import type { Account } from "../format/account.ts";
import { parseAccountList, unescapeBatch } from "./accounts.ts";
import type { SelfLogin } from "./build.ts";
import type { NameResolution } from "./candidates.ts";

/** The client could not be run or the query failed. */
export class ServerError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ServerError";
  }
}

/**
 * The queries: the login itself (one row), then the user accounts, roles left
 * out. Needs `SELECT` on `mysql.user`.
 */
export const ACCOUNTS_QUERY = "SELECT CURRENT_USER(), USER(), @@skip_name_resolve; " +
  "SELECT User, Host FROM mysql.user WHERE is_role <> 'Y'";

/** What the server said. */
export interface ServerAccounts {
  accounts: Account[];
  /** The report's own login; `account` is `undefined` when `CURRENT_USER()` names no listed one. */
  self: SelfLogin;
  /** `CURRENT_USER()` as the server printed it. */
  currentUser: string;
  nameResolution: NameResolution;
}

/** Splits `user@host` as `USER()` prints it: a client host holds no `@`. */
function splitUser(text: string): Account {
  const at = text.lastIndexOf("@");
  return { user: text.slice(0, at), host: text.slice(at + 1) };
}

/** How to reach the server. */
export interface ClientOptions {
  /** The client program (default `mariadb`). */
  client: string;
  /** An option file for the client (`--defaults-extra-file`), or `""` for its defaults. */
  defaultsFile: string;
}

/**
 * Lists the server's accounts with `mariadb -N -B -e "SELECT ..."`, and the
 * account that listing logged in as.
 *
 * @example
 * ```ts
 * const { accounts, self } = await listServerAccounts({ client: "mariadb", defaultsFile: "" });
 * ```
 * @throws {ServerError} when the client cannot be run or fails.
 */
export async function listServerAccounts(options: ClientOptions): Promise<ServerAccounts> {
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
  const text = new TextDecoder().decode(out.stdout);
  const newline = text.indexOf("\n");
  const first = text.slice(0, newline).split("\t").map(unescapeBatch);
  if (newline < 0 || first.length !== 3) {
    throw new ServerError(
      `"${options.client}" printed an unexpected first line: ${text.slice(0, 80)}`,
    );
  }
  const [currentUser, user, skip] = first;
  const accounts = parseAccountList(text.slice(newline + 1), "mysql.user");
  const account = accounts.find((a) => `${a.user}@${a.host}` === currentUser);
  return {
    accounts,
    self: { account: account ?? splitUser(currentUser), client: splitUser(user) },
    currentUser,
    nameResolution: skip === "1" ? "off" : skip === "0" ? "on" : "unknown",
  };
}
