/**
 * What a push asks the local MariaDB server, through the same client path as
 * `report --accounts-from-server` (`MariadbClient`, `MariadbDefaultsFile`), in
 * one login: its Galera cluster name, the account that login is (the audit
 * log records it like any other, so the fleet report must not take it for
 * use), whether it resolves client names, and the accounts it defines. The
 * call is bounded in time (the client is killed after it), and a server that
 * cannot be asked is not an error: the answer is then unknown.
 *
 * @module
 */

import type { Account } from "../format/account.ts";
import { parseAccountList } from "../report/accounts.ts";
import type { ClientOptions } from "../input/mariadb_client.ts";

/** What the local server said of itself. */
export interface LocalServer {
  /** Its `wsrep_cluster_name` when it runs Galera, else `""`. */
  cluster: string;
  /** `CURRENT_USER()`: the account the push logged in as. */
  account: Account;
  /** `USER()`: the user it sent and the host the server saw, as the log writes them. */
  client: Account;
  /** Whether it resolves client host names (`@@skip_name_resolve` is 0). */
  resolvesNames: boolean;
  /** The accounts it defines (roles left out), when they were asked for. */
  accounts?: Account[];
}

/** The server's answer, or why there is none. */
export type Answer<T> = { ok: true; value: T } | { ok: false; problem: string };

/** About itself, in one row; then, when asked, `mysql.user` (needs `SELECT` on it). */
const SELF_QUERY =
  "SELECT IF(@@wsrep_on, @@wsrep_cluster_name, ''), CURRENT_USER(), USER(), @@skip_name_resolve";
const ACCOUNTS_QUERY = "SELECT User, Host FROM mysql.user WHERE is_role <> 'Y'";

/** Splits `user@host` as `CURRENT_USER()` and `USER()` print it: a host holds no `@`. */
function splitAccount(text: string): Account {
  const at = text.lastIndexOf("@");
  return { user: text.slice(0, at), host: text.slice(at + 1) };
}

function parseAnswer(text: string, withAccounts: boolean): LocalServer {
  const [first, ...rest] = text.split("\n");
  const fields = first.split("\t");
  if (fields.length !== 4) throw new Error(`unexpected answer ${JSON.stringify(first)}`);
  const [cluster, current, user, skip] = fields;
  const server: LocalServer = {
    cluster,
    account: splitAccount(current),
    client: splitAccount(user),
    resolvesNames: skip.trim() === "0",
  };
  if (withAccounts) server.accounts = parseAccountList(rest.join("\n"), "mysql.user");
  return server;
}

/**
 * Asks the local server about itself (and its accounts, with `accounts`),
 * with `mariadb -N -B`, killed after `timeoutMs`.
 *
 * @example
 * ```ts
 * const found = await askLocalServer({ client: "mariadb", defaultsFile: "" }, {
 *   accounts: true,
 *   timeoutMs: 5000,
 * });
 * if (found.ok) console.log(found.value.cluster, found.value.accounts?.length);
 * ```
 */
export async function askLocalServer(
  client: ClientOptions,
  options: { accounts: boolean; timeoutMs: number },
): Promise<Answer<LocalServer>> {
  const sql = options.accounts ? `${SELF_QUERY}; ${ACCOUNTS_QUERY}` : SELF_QUERY;
  const args = [
    ...(client.defaultsFile ? [`--defaults-extra-file=${client.defaultsFile}`] : []),
    "--batch",
    "--skip-column-names",
    "--default-character-set=utf8mb4",
    `--connect-timeout=${Math.max(1, Math.ceil(options.timeoutMs / 1000))}`,
    "--execute",
    sql,
  ];
  try {
    const out = await new Deno.Command(client.client, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(options.timeoutMs),
    }).output();
    if (out.code !== 0) {
      const stderr = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
      return {
        ok: false,
        problem: `"${client.client}" failed: ${stderr || `signal ${out.signal}`}`,
      };
    }
    return { ok: true, value: parseAnswer(new TextDecoder().decode(out.stdout), options.accounts) };
  } catch (e) {
    return { ok: false, problem: `"${client.client}": ${(e as Error).message}` };
  }
}
