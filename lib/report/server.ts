/**
 * The accounts a running MariaDB server defines, asked through its own
 * command-line client (`lib/input/mariadb_client.ts`). The same call tells
 * which account that login is (`CURRENT_USER()`), how the log shows it
 * (`USER()`) and whether the server resolves client names
 * (`@@skip_name_resolve`).
 *
 * @module
 */

import type { Account } from "../format/account.ts";
import {
  type ClientOptions,
  runClient,
  ServerError,
  unescapeBatch,
} from "../input/mariadb_client.ts";
import { parseAccountList } from "./accounts.ts";
import type { SelfLogin } from "./build.ts";
import type { NameResolution } from "./candidates.ts";

/**
 * The queries: the login itself (one row), then the user accounts, roles left
 * out. Needs `SELECT` on `mysql.user`.
 */
const ACCOUNTS_QUERY = "SELECT CURRENT_USER(), USER(), @@skip_name_resolve; " +
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

/**
 * Lists the server's accounts with `mariadb -N -B -e "SELECT ..."`, and the
 * account that listing logged in as.
 *
 * @example
 * ```ts
 * const { accounts, self } = await listServerAccounts({ client: "mariadb", defaultsFile: "" });
 * ```
 * @throws {ServerError} when the client cannot be run, fails, or prints something else.
 */
export async function listServerAccounts(options: ClientOptions): Promise<ServerAccounts> {
  const text = await runClient({ ...options, query: ACCOUNTS_QUERY });
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
