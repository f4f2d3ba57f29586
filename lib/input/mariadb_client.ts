/**
 * Asking a running MariaDB server, through its own command-line client
 * (`MariadbClient`, default `mariadb`), so that the socket and credentials
 * come from the client's usual option files (`~/.my.cnf`, `/etc/mysql/`) or
 * from `MariadbDefaultsFile`. The one place that runs the client: `check`
 * asks for the server's variables, `report --accounts-from-server` for its
 * accounts; each parses the rows it asked for.
 *
 * @module
 */

/** The client could not be run, or the query failed. */
export class ServerError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ServerError";
  }
}

/** How to reach the server. */
export interface ClientOptions {
  /** The client program (`MariadbClient`, default `mariadb`). */
  client: string;
  /** An option file for the client (`--defaults-extra-file`), or `""` for its defaults. */
  defaultsFile: string;
}

/** What {@link runClient} runs. */
export interface ClientQuery extends ClientOptions {
  /** One or more SQL statements, separated by `;`. */
  query: string;
}

/**
 * Runs `query` with `mariadb --batch --skip-column-names
 * --default-character-set=utf8mb4 --execute QUERY` and returns what it
 * printed: one line per row of every result set in turn, fields separated by
 * tabs and escaped as batch mode does ({@link unescapeBatch} undoes it).
 *
 * @example
 * ```ts
 * const text = await runClient({ client: "mariadb", defaultsFile: "", query: "SELECT 1, 'a'" });
 * text; // "1\ta\n"
 * ```
 * @throws {ServerError} when the client cannot be run or exits non-zero (its
 * first line on stderr is the message).
 */
export async function runClient(options: ClientQuery): Promise<string> {
  const args = [
    // The client takes --defaults-extra-file only as its first argument.
    ...(options.defaultsFile ? [`--defaults-extra-file=${options.defaultsFile}`] : []),
    "--batch",
    "--skip-column-names",
    "--default-character-set=utf8mb4",
    "--execute",
    options.query,
  ];
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(options.client, { args, stdin: "null" }).output();
  } catch (e) {
    throw new ServerError(`"${options.client}" cannot be run: ${(e as Error).message}`);
  }
  if (out.code !== 0) {
    const stderr = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    throw new ServerError(`"${options.client}" failed: ${stderr}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * Undoes the escapes of the client's batch mode (`\t`, `\n`, `\0`, `\\`) in
 * one field; also for a file saved from `mariadb -B` (an account list).
 *
 * @example
 * ```ts
 * unescapeBatch("a\\tb"); // "a\tb"
 * ```
 */
export function unescapeBatch(field: string): string {
  return field.replace(
    /\\([\\tn0])/g,
    (_, c) => ({ t: "\t", n: "\n", "0": "\0" })[c as string] ?? c,
  );
}
