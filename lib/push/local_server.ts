/**
 * What a push asks the local MariaDB server, through the same client path as
 * `report --accounts-from-server` (`MariadbClient`, `MariadbDefaultsFile`):
 * its Galera cluster name and the accounts it defines. Each call is bounded
 * in time (the client is killed after it), and a server that cannot be asked
 * is not an error: the answer is then unknown.
 *
 * @module
 */

import type { Account } from "../format/account.ts";
import { parseAccountList } from "../report/accounts.ts";
import { ACCOUNTS_QUERY, type ClientOptions } from "../report/server.ts";

/** What the local server answered, or why it did not. */
export type Answer<T> = { ok: true; value: T } | { ok: false; problem: string };

/** Runs one query with the client (`-N -B`), killed after `timeoutMs`. */
async function ask(client: ClientOptions, sql: string, timeoutMs: number): Promise<Answer<string>> {
  const args = [
    ...(client.defaultsFile ? [`--defaults-extra-file=${client.defaultsFile}`] : []),
    "--batch",
    "--skip-column-names",
    "--default-character-set=utf8mb4",
    `--connect-timeout=${Math.max(1, Math.ceil(timeoutMs / 1000))}`,
    "--execute",
    sql,
  ];
  try {
    const out = await new Deno.Command(client.client, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    if (out.code !== 0) {
      const stderr = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
      return {
        ok: false,
        problem: `"${client.client}" failed: ${stderr || `signal ${out.signal}`}`,
      };
    }
    return { ok: true, value: new TextDecoder().decode(out.stdout) };
  } catch (e) {
    return { ok: false, problem: `cannot run "${client.client}": ${(e as Error).message}` };
  }
}

/**
 * The local server's `wsrep_cluster_name` when it runs Galera, `""` when it
 * does not.
 *
 * @example
 * ```ts
 * const cluster = await localClusterName({ client: "mariadb", defaultsFile: "" }, 5000);
 * if (cluster.ok) console.log(cluster.value);
 * ```
 */
export async function localClusterName(
  client: ClientOptions,
  timeoutMs: number,
): Promise<Answer<string>> {
  const answer = await ask(client, "SELECT IF(@@wsrep_on, @@wsrep_cluster_name, '')", timeoutMs);
  return answer.ok ? { ok: true, value: answer.value.split("\n")[0].trim() } : answer;
}

/**
 * The accounts the local server defines (`mysql.user`, roles left out).
 *
 * @example
 * ```ts
 * const defined = await localAccounts({ client: "mariadb", defaultsFile: "" }, 5000);
 * if (defined.ok) console.log(defined.value.length);
 * ```
 */
export async function localAccounts(
  client: ClientOptions,
  timeoutMs: number,
): Promise<Answer<Account[]>> {
  const answer = await ask(client, ACCOUNTS_QUERY, timeoutMs);
  if (!answer.ok) return answer;
  try {
    return { ok: true, value: parseAccountList(answer.value, "mysql.user") };
  } catch (e) {
    return { ok: false, problem: (e as Error).message };
  }
}
