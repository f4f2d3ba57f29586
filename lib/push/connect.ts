/**
 * Reaching the central store with `npm:mysql2`: the hosts of `[central]`
 * tried in order, each connection checked to be in Galera's Primary
 * Component before it writes, every wait bounded (connect, each query, and
 * one deadline for everything), and errors sorted into those worth a retry
 * on the same host (1213, 1205), those that move to the next host (1047, a
 * lost or silent server) and the rest.
 *
 * `mysql2` is imported when a connection is first made, so that a run
 * without `[central]` does not load it.
 *
 * @module
 */

import type { Connection, ConnectionOptions } from "mysql2/promise";
import type { CentralConfig, CentralHost } from "./config.ts";

/** How long each step may take, in milliseconds. */
export interface Timeouts {
  /** Connecting, the handshake and the login included. */
  connectMs: number;
  /** One statement; longer than the 5.4 s a Galera cluster pauses when a node dies. */
  queryMs: number;
  /** Everything a push or a read does, retries and failover included. */
  deadlineMs: number;
}

/** The timeouts runs use. */
export const TIMEOUTS: Timeouts = { connectMs: 3_000, queryMs: 10_000, deadlineMs: 30_000 };

/** The central store cannot be used: every host failed, or the deadline passed. */
export class CentralError extends Error {
  /**
   * A host answered but was not in the Primary Component: a Galera cluster
   * that is changing its view, worth another try in a moment.
   */
  transient: boolean;
  /** Creates the error. */
  constructor(message: string, options: { cause?: unknown; transient?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = "CentralError";
    this.transient = options.transient ?? false;
  }
}

/** A point in time after which nothing more is tried. */
export interface Deadline {
  /** Epoch milliseconds. */
  at: number;
  /** The clock (default `Date.now`). */
  now: () => number;
}

/**
 * Milliseconds left before the deadline (at least 1, so that a call still fails fast).
 *
 * @example
 * ```ts
 * left({ at: Date.now() + 5000, now: Date.now }); // about 5000
 * ```
 */
export function left(deadline: Deadline): number {
  return Math.max(1, deadline.at - deadline.now());
}

/**
 * Whether the deadline has passed.
 *
 * @example
 * ```ts
 * passed({ at: 0, now: Date.now }); // true
 * ```
 */
export function passed(deadline: Deadline): boolean {
  return deadline.now() >= deadline.at;
}

/** The error number or code of a driver error. */
interface DriverError {
  errno?: number;
  code?: string;
  message?: string;
}

/**
 * Galera's certification failure (1213), a lock wait timeout (1205), and a
 * commit that replication refused while the cluster changed its view (1180,
 * "Not connected to Primary Component"): retry the transaction.
 *
 * @example
 * ```ts
 * isRetryable({ errno: 1213 }); // true
 * isRetryable({ errno: 1047 }); // false
 * ```
 */
export function isRetryable(e: unknown): boolean {
  const errno = (e as DriverError)?.errno;
  return errno === 1213 || errno === 1205 || errno === 1180;
}

/**
 * Errors after which this host is given up for the next one: outside the
 * Primary Component (1047), shut down or gone (1053, 2006, 2013), refused,
 * reset, silent past a timeout.
 *
 * @example
 * ```ts
 * isHostFailure({ errno: 1047 }); // true
 * isHostFailure({ code: "PROTOCOL_SEQUENCE_TIMEOUT" }); // true
 * isHostFailure({ errno: 1062 }); // false
 * ```
 */
export function isHostFailure(e: unknown): boolean {
  const { errno, code } = (e ?? {}) as DriverError;
  if (errno === 1047 || errno === 1053 || errno === 2006 || errno === 2013) return true;
  return [
    "ECONNREFUSED",
    "ECONNRESET",
    "EPIPE",
    "ETIMEDOUT",
    "EHOSTUNREACH",
    "ENOENT",
    "PROTOCOL_CONNECTION_LOST",
    "PROTOCOL_SEQUENCE_TIMEOUT",
  ].includes(code ?? "");
}

/**
 * One line saying what went wrong: the message and the server's error number
 * (or the driver's code).
 *
 * @example
 * ```ts
 * describe({ message: "Deadlock found", errno: 1213 }); // "Deadlock found (1213)"
 * ```
 */
export function describe(e: unknown): string {
  const { errno, code, message } = (e ?? {}) as DriverError;
  const text = message ?? String(e);
  if (errno !== undefined && errno > 0) return `${text} (${errno})`;
  return code && !text.includes(code) ? `${text} (${code})` : text;
}

/** An open connection and the host it reached. */
export interface Link {
  conn: Connection;
  host: CentralHost;
  /** Its place in `Hosts`. */
  index: number;
  timeouts: Timeouts;
}

/** A file's text (`firstLine`: only its first line, as a password file holds it). */
async function readFile(file: string, what: string, firstLine: boolean): Promise<string> {
  try {
    const text = await Deno.readTextFile(file);
    return firstLine ? text.split("\n")[0].replace(/\r$/, "") : text;
  } catch (e) {
    throw new CentralError(`${what} "${file}" cannot be read: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** The driver's options for `host`, the password and CA read from their files. */
async function connectionOptions(
  config: CentralConfig,
  host: CentralHost,
): Promise<ConnectionOptions> {
  const options: ConnectionOptions = {
    user: config.user,
    database: config.database,
    charset: "UTF8MB4_BIN",
    supportBigNumbers: true,
    ...host.kind === "socket" ? { socketPath: host.path } : { host: host.host, port: host.port },
  };
  if (config.passwordFile) {
    options.password = await readFile(config.passwordFile, "Password file", true);
  }
  if (config.tlsCa || config.tlsVerify !== undefined) {
    options.ssl = {
      rejectUnauthorized: config.tlsVerify ?? true,
      ...config.tlsCa ? { ca: await readFile(config.tlsCa, "TLS CA file", false) } : {},
    };
  }
  return options;
}

/**
 * Prepares a Galera connection (reads wait until the node has applied what
 * the cluster committed before them: `wsrep_sync_wait = 1`) and says why the
 * node may not take writes, or `undefined` when it may.
 */
async function prepare(link: Link, deadline: Deadline): Promise<string | undefined> {
  const rows = await query(
    link,
    `SELECT @@wsrep_on AS wsrep_on, (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
       WHERE VARIABLE_NAME = 'WSREP_READY') AS ready`,
    [],
    deadline,
  );
  const row = rows[0] ?? {};
  if (Number(row.wsrep_on) !== 1) return undefined;
  if (row.ready !== "ON") return "not in the Primary Component (wsrep_ready is not ON)";
  await query(link, "SET SESSION wsrep_sync_wait = 1", [], deadline);
  return undefined;
}

/**
 * Connects to the first host that answers and, for a Galera node, is in the
 * Primary Component (writes and synced reads need it), trying them in order,
 * starting at `from`. A connection that cannot be used is closed at once.
 *
 * @example
 * ```ts
 * import { parseCentralSection } from "./config.ts";
 * const config = parseCentralSection({ Hosts: "127.0.0.1:3306", PasswordFile: "/etc/c.pw" });
 * const deadline = { at: Date.now() + 30_000, now: Date.now };
 * const link = await connect(config, { deadline, timeouts: TIMEOUTS });
 * await link.conn.end();
 * ```
 * @throws {CentralError} naming each host and what it answered, when none can be used.
 */
export async function connect(
  config: CentralConfig,
  options: { deadline: Deadline; timeouts: Timeouts; from?: number },
): Promise<Link> {
  const { default: mysql } = await import("mysql2/promise");
  const problems: string[] = [];
  let transient = false;
  const start = options.from ?? 0;
  for (let i = 0; i < config.hosts.length; i++) {
    const index = (start + i) % config.hosts.length;
    const host = config.hosts[index];
    if (passed(options.deadline)) {
      problems.push(`${host.text}: not tried, the deadline passed`);
      continue;
    }
    let conn: Connection | undefined;
    try {
      conn = await mysql.createConnection({
        ...await connectionOptions(config, host),
        connectTimeout: Math.min(options.timeouts.connectMs, left(options.deadline)),
      });
      // An error on an idle connection must not end the process.
      conn.on("error", () => {});
      const link = { conn, host, index, timeouts: options.timeouts };
      const why = await prepare(link, options.deadline);
      if (why === undefined) return link;
      problems.push(`${host.text}: ${why}`);
      transient = true;
      conn.destroy();
    } catch (e) {
      conn?.destroy();
      if (e instanceof CentralError) throw e;
      problems.push(`${host.text}: ${describe(e)}`);
    }
  }
  throw new CentralError(`No central server could be used: ${problems.join("; ")}`, {
    transient,
  });
}

/** A row as the driver returns it. */
export type Row = Record<string, unknown>;

/**
 * Runs one statement with a client-side timeout (the shorter of the query
 * timeout and what is left of the deadline); after a timeout the connection
 * is destroyed, since the next query would wait for the old one.
 *
 * @example
 * ```ts
 * const rows = await query(link, "SELECT 1 AS one", [], { at: Date.now() + 5000, now: Date.now });
 * ```
 */
export async function query(
  link: Link,
  sql: string,
  values: unknown[],
  deadline: Deadline,
): Promise<Row[]> {
  try {
    const [result] = await link.conn.query({
      sql,
      values,
      timeout: Math.min(link.timeouts.queryMs, left(deadline)),
    });
    return Array.isArray(result) ? result as Row[] : [];
  } catch (e) {
    if (isHostFailure(e)) link.conn.destroy();
    throw e;
  }
}
