/**
 * Account names: the one place that parses `user@host` as MariaDB writes it,
 * prints it, and keys maps by it.
 *
 * @module
 */

/** An account: a user name and a host (a client host, or a pattern as MariaDB defines it). */
export interface Account {
  user: string;
  host: string;
}

/**
 * The key of `user@host` in a map: unambiguous, as neither part can hold a
 * NUL.
 *
 * @example
 * ```ts
 * accountKey("bob", "%"); // "bob\u0000%"
 * ```
 */
export function accountKey(user: string, host: string): string {
  return `${user}\u0000${host}`;
}

/**
 * Parses an account name as MariaDB writes it (a `PROXY_CONNECT` names
 * `` `plug_dest`@`%` ``), quoted with backticks, single or double quotes, or
 * not at all.
 *
 * @example
 * ```ts
 * parseAccountName("`plug_dest`@`%`"); // { user: "plug_dest", host: "%" }
 * parseAccountName("'app'@'10.0.%'"); // { user: "app", host: "10.0.%" }
 * ```
 */
export function parseAccountName(text: string): Account | undefined {
  const m = /^([`'"]?)(.*)\1@([`'"]?)(.*)\3$/.exec(text.trim());
  return m ? { user: m[2], host: m[4] } : undefined;
}

/**
 * The `user@host` text of an account, quoted as MariaDB prints it;
 * {@link parseAccountName} reads it back.
 *
 * @example
 * ```ts
 * formatAccountName({ user: "app", host: "10.0.%" }); // "'app'@'10.0.%'"
 * ```
 */
export function formatAccountName(account: Account): string {
  return `'${account.user}'@'${account.host}'`;
}
