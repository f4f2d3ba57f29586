/**
 * A throwaway MariaDB server with the `server_audit` plugin, from Debian's
 * `mariadb-server`: its own temp data directory, socket and loopback port,
 * always shut down and removed afterwards.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { createConnection } from "mysql2";
import type { Connection as PromiseConnection } from "mysql2/promise";

/** Where Debian puts the server. */
export const MARIADBD: string | undefined = ["/usr/sbin/mariadbd", "/usr/bin/mariadbd"].find((p) =>
  existsSync(p)
);

/** Whether a MariaDB server can be started here. */
export const HAVE_MARIADB: boolean = MARIADBD !== undefined;

/** The zone the server process runs in (its audit timestamps are this wall time). */
export const SERVER_TZ = "Europe/Zurich";

/** A running throwaway server. */
export interface MariaDb {
  dir: string;
  socket: string;
  port: number;
  /** The audit log file (`server_audit_file_path`). */
  auditLog: string;
  version: string;
}

/** How a client reaches the server: the socket, or TCP from 127.0.0.1 or from 127.0.0.2. */
export type Via = "socket" | "tcp" | "tcp2";

/** The client host the server sees (and logs) for each way in (`--skip-name-resolve`). */
export const CLIENT_HOST: Record<Via, string> = {
  socket: "localhost",
  tcp: "127.0.0.1",
  tcp2: "127.0.0.2",
};

/** One login attempt a test made, with the wall-clock window it ran in. */
export interface Attempt {
  user: string;
  /** The client host, as logged. */
  host: string;
  ok: boolean;
  /** Epoch milliseconds just before and just after the attempt. */
  before: number;
  after: number;
  /** `CURRENT_USER()` after a successful login: the account MariaDB chose. */
  currentUser?: string;
  /** How the client came in. */
  via?: Via;
  /** The server's connection id (`CONNECTION_ID()`), when the client could tell. */
  connectionId?: number;
  /** The default database asked for at login. */
  database?: string;
  /** A `COM_CHANGE_USER` on an open connection rather than a new connection. */
  changeUser?: boolean;
  /** The scenario's step the attempt belongs to. */
  step?: string;
  /** The audit line that records the attempt, and the file it is in (filled by the capture). */
  logged?: string;
  /** After a successful change-user (logged without a user): the next line, which names it. */
  namedBy?: string;
  file?: string;
}

/** Options of the audit plugin. */
export interface AuditOptions {
  events: string;
  rotateSize?: number;
  rotations?: number;
  /** `server_audit_query_log_limit` (the server's default: 1024). */
  queryLogLimit?: number;
  /** `server_audit_output_type` (default `file`). */
  outputType?: "file" | "syslog";
  /** `server_audit_syslog_ident` (the server's default: `mysql-server_auditing`). */
  syslogIdent?: string;
}

/** How to run the server: the audit plugin's options, and the server's own. */
export interface ServerOptions extends AuditOptions {
  /**
   * Whether the server resolves client addresses to names (Debian's default);
   * `false` (the default here) runs it with `--skip-name-resolve`.
   */
  nameResolve?: boolean;
  /** The server process's `TZ` (default {@link SERVER_TZ}): its audit timestamps' wall time. */
  tz?: string;
  /** More `mariadbd` arguments, after the ones set here. */
  args?: string[];
  /**
   * A command to run `mariadbd` under, e.g. `["unshare", "-m", "sh", "-c", SCRIPT]`
   * where SCRIPT ends with `exec "$0" "$@"`: the server's path and arguments follow it.
   */
  wrap?: string[];
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The result of one `mariadb` client call. */
export interface ClientResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/**
 * Runs the `mariadb` command-line client.
 *
 * @example
 * ```ts
 * await client(["-S", "/tmp/x/sock", "-uroot", "-e", "select 1"]);
 * ```
 */
export async function client(args: string[], input?: string): Promise<ClientResult> {
  const child = new Deno.Command("mariadb", {
    args: ["--no-defaults", "--default-character-set=utf8mb4", ...args],
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    // A client refused at login exits without reading its input: its exit code tells.
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input)).then(() => writer.close()).catch(
      (e) => {
        if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
      },
    );
  }
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { ok: out.code === 0, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/**
 * Runs SQL as root over the socket and returns the rows (tab-separated, no header).
 *
 * @example
 * ```ts
 * await rootSql(server, "SELECT 1");
 * ```
 */
export async function rootSql(server: MariaDb, sql: string): Promise<string[][]> {
  const r = await client(["-S", server.socket, "-uroot", "-N", "-B"], sql);
  if (!r.ok) throw new Error(`root SQL failed: ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l).map((l) => l.split("\t"));
}

/**
 * Logs in with the `mariadb` client (through the driver from 127.0.0.2), runs
 * `input` after `SELECT CURRENT_USER()`, and records the attempt.
 *
 * @example
 * ```ts
 * await login(server, attempts, "app", "secret", "tcp");
 * ```
 */
export async function login(
  server: MariaDb,
  attempts: Attempt[],
  user: string,
  password: string,
  via: Via,
  input = "",
): Promise<Attempt> {
  if (via === "tcp2") {
    const run = input ? (s: Session) => s.conn.query(input) : undefined;
    return await driverLogin(server, attempts, { user, password, via }, run);
  }
  const before = Date.now();
  const currentUser = await loginWithClient(server, user, password, via, input);
  const attempt: Attempt = {
    user,
    host: CLIENT_HOST[via],
    ok: currentUser !== undefined,
    before,
    after: Date.now(),
  };
  if (currentUser !== undefined) attempt.currentUser = currentUser;
  attempts.push(attempt);
  return attempt;
}

async function loginWithClient(
  server: MariaDb,
  user: string,
  password: string,
  via: "socket" | "tcp",
  input: string,
): Promise<string | undefined> {
  const where = via === "socket"
    ? ["-S", server.socket]
    : ["-h", "127.0.0.1", "-P", String(server.port), "--protocol=TCP"];
  const r = await client(
    [...where, "-u", user, `-p${password}`, "-N", "-B"],
    `SELECT CURRENT_USER();\n${input}`,
  );
  return r.ok ? r.stdout.split("\n")[0] : undefined;
}

/** A login through the `mysql2` driver. */
export interface DriverLogin {
  user: string;
  password: string;
  via: Via;
  /** The default database to ask for at login. */
  database?: string;
}

/** An open driver connection and the server's id for it. */
export interface Session {
  conn: PromiseConnection;
  connectionId: number;
  via: Via;
}

/**
 * Logs in through the `mysql2` driver (which, unlike the `mariadb` client,
 * can choose its source address), records the attempt with the server's
 * connection id (also for a refused login: the server's greeting names it),
 * runs `use` with the session and closes it.
 *
 * @example
 * ```ts
 * await driverLogin(server, attempts, { user: "app", password: "pw", via: "tcp2" });
 * ```
 */
export async function driverLogin(
  server: MariaDb,
  attempts: Attempt[],
  login: DriverLogin,
  use?: (session: Session) => Promise<unknown>,
): Promise<Attempt> {
  const before = Date.now();
  const { connectionId, conn } = await openDriver(server, login);
  const attempt: Attempt = {
    user: login.user,
    host: CLIENT_HOST[login.via],
    ok: conn !== undefined,
    before,
    after: Date.now(),
    via: login.via,
  };
  if (connectionId !== undefined) attempt.connectionId = connectionId;
  if (login.database !== undefined) attempt.database = login.database;
  attempts.push(attempt);
  if (conn === undefined) return attempt;
  try {
    attempt.currentUser = await currentUserOf(conn);
    await use?.({ conn, connectionId: connectionId!, via: login.via });
  } finally {
    await conn.end().catch(() => {});
  }
  return attempt;
}

/**
 * Changes the user of an open session (`COM_CHANGE_USER`) and records it as an
 * attempt of the new user; a refused change ends the session.
 *
 * @example
 * ```ts
 * await changeUser(session, attempts, { user: "carol", password: "pw-carol" });
 * ```
 */
export async function changeUser(
  session: Session,
  attempts: Attempt[],
  to: { user: string; password: string },
): Promise<Attempt> {
  const before = Date.now();
  const ok = await session.conn.changeUser(to).then(() => true, () => false);
  const attempt: Attempt = {
    user: to.user,
    host: CLIENT_HOST[session.via],
    ok,
    before,
    after: Date.now(),
    via: session.via,
    connectionId: session.connectionId,
    changeUser: true,
  };
  attempts.push(attempt);
  if (ok) attempt.currentUser = await currentUserOf(session.conn);
  return attempt;
}

/**
 * A TCP health check: opens a connection from 127.0.0.1 and closes it before
 * authenticating, at once or after reading the server's greeting (which names
 * the connection id). Recorded as a failed attempt with an empty user.
 *
 * @example
 * ```ts
 * await healthCheck(server, attempts, { readGreeting: true });
 * ```
 */
export async function healthCheck(
  server: MariaDb,
  attempts: Attempt[],
  { readGreeting }: { readGreeting: boolean },
): Promise<Attempt> {
  const before = Date.now();
  const socket = connect({ host: "127.0.0.1", port: server.port, localAddress: "127.0.0.1" });
  const connectionId = await new Promise<number | undefined>((resolve, reject) => {
    socket.once("error", reject);
    if (!readGreeting) socket.once("connect", () => resolve(undefined));
    // Greeting: 4-byte header, protocol version, NUL-terminated server version, connection id.
    else socket.once("data", (b: Buffer) => resolve(b.readUInt32LE(b.indexOf(0, 5) + 1)));
  });
  const closed = new Promise((resolve) => socket.once("close", resolve));
  socket.destroy();
  await closed;
  const attempt: Attempt = {
    user: "",
    host: CLIENT_HOST.tcp,
    ok: false,
    before,
    after: Date.now(),
    via: "tcp",
  };
  if (connectionId !== undefined) attempt.connectionId = connectionId;
  attempts.push(attempt);
  return attempt;
}

function openDriver(
  server: MariaDb,
  login: DriverLogin,
): Promise<{ connectionId?: number; conn?: PromiseConnection }> {
  const where = login.via === "socket" ? { socketPath: server.socket } : {
    // mysql2 ignores `localAddress`; it takes a ready socket.
    stream: connect({ host: "127.0.0.1", port: server.port, localAddress: CLIENT_HOST[login.via] }),
  };
  const conn = createConnection({
    ...where,
    user: login.user,
    password: login.password,
    database: login.database,
    multipleStatements: true,
  });
  // Set from the server's greeting, before authentication.
  const id = () => (conn as unknown as { connectionId?: number }).connectionId;
  return new Promise((resolve) => {
    conn.once("connect", () => {
      conn.on("error", () => {});
      resolve({ connectionId: id(), conn: conn.promise() });
    });
    conn.once("error", () => {
      conn.destroy();
      resolve({ connectionId: id() });
    });
  });
}

async function currentUserOf(conn: PromiseConnection): Promise<string> {
  const [rows] = await conn.query("SELECT CURRENT_USER() AS cu");
  return (rows as { cu: string }[])[0].cu;
}

/** The user the server runs as (Debian's `mariadb-server` creates it). */
const SERVER_USER = "mysql";

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  if (out.code !== 0) {
    throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Starts a server as the `mysql` user, runs `fn` with it, and always shuts it
 * down (by its PID) and removes its files.
 *
 * @example
 * ```ts
 * await withMariaDb({ events: "CONNECT" }, async (server) => {
 *   await rootSql(server, "SELECT 1");
 * });
 * ```
 */
export async function withMariaDb(
  options: ServerOptions,
  fn: (server: MariaDb) => Promise<void>,
): Promise<void> {
  if (!MARIADBD) throw new Error("mariadbd not found: install mariadb-server");
  const dir = await Deno.makeTempDir({ prefix: "conntracker-mariadb-" });
  const data = join(dir, "data");
  const auditDir = join(dir, "audit");
  // Its own tmpdir: servers installed at once in the shared /tmp collide on their temp tables.
  const tmp = join(dir, "tmp");
  for (const d of [data, auditDir, tmp]) await Deno.mkdir(d);
  const { uid, gid } = mysqlIds();
  for (const d of [dir, data, auditDir, tmp]) await Deno.chown(d, uid, gid);
  const port = freePort();
  const socket = join(dir, "sock");
  const pidFile = join(dir, "pid");
  let child: Deno.ChildProcess | undefined;
  try {
    await run("mariadb-install-db", [
      "--no-defaults",
      `--user=${SERVER_USER}`,
      `--datadir=${data}`,
      `--tmpdir=${tmp}`,
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
    ]);
    const auditLog = join(auditDir, "server_audit.log");
    const command = [
      ...(options.wrap ?? []),
      MARIADBD,
      ...serverArgs(options, {
        data,
        tmp,
        socket,
        port,
        pidFile,
        errorLog: join(dir, "err.log"),
        auditLog,
      }),
    ];
    child = new Deno.Command(command[0], {
      args: command.slice(1),
      env: { TZ: options.tz ?? SERVER_TZ },
      stdout: "null",
      stderr: "null",
    }).spawn();
    let version = "";
    for (let i = 0; i < 120 && !version; i++) {
      const r = await client(["-S", socket, "-uroot", "-N", "-B", "-e", "SELECT VERSION()"]);
      if (r.ok) version = r.stdout.trim();
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (!version) {
      const log = await Deno.readTextFile(join(dir, "err.log")).catch(() => "");
      throw new Error(`mariadbd did not start:\n${log.slice(-2000)}`);
    }
    await fn({ dir, socket, port, auditLog, version });
  } finally {
    if (child) {
      // Under `wrap` the server may not be the child itself: stop it by its own PID too.
      const pid = Number(await Deno.readTextFile(pidFile).catch(() => ""));
      for (const p of new Set([pid, child.pid])) {
        if (p > 0) {
          try {
            Deno.kill(p, "SIGTERM");
          } catch {
            // Already gone.
          }
        }
      }
      await child.status;
      for (let i = 0; i < 200 && pid > 0 && pid !== child.pid && alive(pid); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    await Deno.remove(dir, { recursive: true });
  }
}

/** Where the server keeps its files. */
interface ServerPaths {
  data: string;
  tmp: string;
  socket: string;
  port: number;
  pidFile: string;
  errorLog: string;
  auditLog: string;
}

function serverArgs(options: ServerOptions, paths: ServerPaths): string[] {
  const optional: [string, string | number | undefined][] = [
    ["server_audit_query_log_limit", options.queryLogLimit],
    ["server_audit_output_type", options.outputType],
    ["server_audit_syslog_ident", options.syslogIdent],
  ];
  return [
    "--no-defaults",
    `--user=${SERVER_USER}`,
    `--datadir=${paths.data}`,
    `--tmpdir=${paths.tmp}`,
    `--socket=${paths.socket}`,
    `--port=${paths.port}`,
    "--bind-address=127.0.0.1",
    ...(options.nameResolve ? [] : ["--skip-name-resolve"]),
    `--pid-file=${paths.pidFile}`,
    `--log-error=${paths.errorLog}`,
    "--innodb-buffer-pool-size=16M",
    "--plugin-load-add=server_audit",
    "--server_audit_logging=ON",
    `--server_audit_events=${options.events}`,
    `--server_audit_file_path=${paths.auditLog}`,
    `--server_audit_file_rotate_size=${options.rotateSize ?? 1_000_000}`,
    `--server_audit_file_rotations=${options.rotations ?? 9}`,
    ...optional.filter(([, v]) => v !== undefined).map(([k, v]) => `--${k}=${v}`),
    ...(options.args ?? []),
  ];
}

/** The `mysql` user's uid and gid, from /etc/passwd. */
function mysqlIds(): { uid: number; gid: number } {
  const line = Deno.readTextFileSync("/etc/passwd").split("\n")
    .find((l) => l.startsWith(`${SERVER_USER}:`));
  if (!line) throw new Error(`no user "${SERVER_USER}": install mariadb-server`);
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/** Whether a process runs (a zombie does not). */
function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}
