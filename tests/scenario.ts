/**
 * One scripted session against a real server, shared by the live end-to-end
 * tests and by `deno task capture` (which keeps its logs as a fixture):
 * accounts with overlapping host patterns, an anonymous user, a netmask and a
 * role; logins from the socket, 127.0.0.1 and 127.0.0.2; failures; queries
 * that look like connection lines; plugin rotation on demand and by size; a
 * change-user through a driver. Every attempt is recorded with its time window
 * and the account the server chose (`CURRENT_USER()`).
 *
 * @module
 */

import mysql from "mysql2/promise";
import {
  type Attempt,
  changeUser,
  type DriverLogin,
  driverLogin,
  healthCheck,
  login,
  type MariaDb,
  rootSql,
  type Session,
  type Via,
} from "./mariadb.ts";

/** The accounts (and a role) the scenario creates. */
export const ACCOUNTS_SQL = `
  CREATE USER 'app'@'%' IDENTIFIED BY 'pw-any';
  CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'pw-local';
  CREATE USER 'app'@'localhost' IDENTIFIED BY 'pw-sock';
  CREATE USER 'app'@'10.0.0.0/255.0.0.0' IDENTIFIED BY 'pw-ten';
  CREATE USER ''@'localhost' IDENTIFIED BY 'pw-anon';
  CREATE USER 'ops'@'127.0.0.0/255.255.255.0' IDENTIFIED BY 'pw-ops';
  CREATE USER 'ops'@'%' IDENTIFIED BY 'pw-ops';
  CREATE USER 'web'@'127.0.0.%' IDENTIFIED BY 'pw-web';
  CREATE USER 'web'@'127.0.0.2' IDENTIFIED BY 'pw-web';
  CREATE USER 'svc.report-1'@'%' IDENTIFIED BY 'pw-svc';
  CREATE USER 'zoë'@'%' IDENTIFIED BY 'pw-zoe';
  CREATE USER 'carol'@'localhost' IDENTIFIED BY 'pw-carol';
  CREATE USER 'unused'@'%' IDENTIFIED BY 'pw-unused';
  CREATE ROLE 'reader';
  CREATE DATABASE shop;
  GRANT SELECT ON shop.* TO 'reader';
  GRANT 'reader' TO 'svc.report-1'@'%';
  GRANT ALL ON shop.* TO 'app'@'%', 'app'@'localhost', 'zoë'@'%', 'carol'@'localhost';
`;

/** Queries whose text looks like audit lines: commas, quotes, newlines, `,CONNECT,`. */
export const TRICKY = [
  "SELECT 'x,CONNECT,y' AS a;",
  "SELECT '20261124 23:52:28,vm,mallory,127.0.0.1,10,0,CONNECT,,,0' AS fake;",
  "SELECT 'it''s', \"dq\", 'back\\\\slash', 'a,b,c', 'naïve ☃';",
  "SELECT 1,\n  2 AS two;",
].join("\n");

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Plays the scenario and returns every attempt, in order. Needs the plugin's
 * `QUERY` events for the size rotation (`rotateSize` of a few KiB).
 *
 * @example
 * ```ts
 * const attempts = await playScenario(server);
 * ```
 */
export async function playScenario(server: MariaDb): Promise<Attempt[]> {
  await rootSql(server, ACCOUNTS_SQL);
  const attempts: Attempt[] = [];
  await login(server, attempts, "app", "pw-local", "tcp");
  await login(server, attempts, "app", "pw-any", "tcp2");
  await login(server, attempts, "app", "pw-sock", "socket");
  await login(server, attempts, "nobody", "pw-anon", "socket");
  // The anonymous ''@localhost is more specific than 'zoë'@'%': this one is refused.
  await login(server, attempts, "zoë", "pw-zoe", "socket");
  await login(server, attempts, "zoë", "pw-zoe", "tcp", TRICKY);
  await login(server, attempts, "ops", "pw-ops", "tcp");
  await login(server, attempts, "ops", "pw-ops", "tcp2");
  await login(server, attempts, "web", "pw-web", "tcp");
  await login(server, attempts, "web", "pw-web", "tcp2");
  await login(server, attempts, "svc.report-1", "pw-svc", "tcp", TRICKY);
  await login(server, attempts, "app", "wrong", "tcp");
  await login(server, attempts, "mallory", "nope", "tcp");
  await login(server, attempts, "carol", "pw-carol", "socket", TRICKY);

  await rootSql(server, "SET GLOBAL server_audit_file_rotate_now = ON;");
  await pause(1100);

  // A driver's change-user: a login of the new account, logged with an empty user.
  let before = Date.now();
  const conn = await mysql.createConnection({
    socketPath: server.socket,
    user: "app",
    password: "pw-sock",
  });
  const currentUser = async () => {
    const [rows] = await conn.query("SELECT CURRENT_USER() AS cu");
    return (rows as { cu: string }[])[0].cu;
  };
  attempts.push({
    user: "app",
    host: "localhost",
    ok: true,
    before,
    after: Date.now(),
    currentUser: await currentUser(),
  });
  await pause(1100);
  before = Date.now();
  await conn.changeUser({ user: "carol", password: "pw-carol" });
  const after = Date.now();
  attempts.push({
    user: "carol",
    host: "localhost",
    ok: true,
    before,
    after,
    currentUser: await currentUser(),
  });
  before = Date.now();
  const refused = await conn.changeUser({ user: "eve", password: "x" }).then(
    () => false,
    () => true,
  );
  attempts.push({ user: "eve", host: "localhost", ok: !refused, before, after: Date.now() });
  await conn.end().catch(() => {});

  // Enough query text to rotate by size.
  const burst = Array.from({ length: 120 }, (_, i) => `SELECT ${i}, 'filler, ${"x".repeat(150)}';`);
  await login(server, attempts, "svc.report-1", "pw-svc", "tcp2", burst.join("\n"));
  await login(server, attempts, "ops", "pw-ops", "socket");
  await login(server, attempts, "zoë", "pw-zoe", "tcp2");
  await login(server, attempts, "zoë", "bad", "tcp");
  return attempts;
}

/** A `Session` as the server's `root`, over the socket, for steps that must log no new login. */
async function withAdmin(server: MariaDb, fn: (s: Session) => Promise<unknown>): Promise<void> {
  await driverLogin(server, [], { user: "root", password: "", via: "socket" }, fn);
}

/** Logs in, then changes to each user in turn on that connection (a refused change ends it). */
async function changingUser(
  server: MariaDb,
  attempts: Attempt[],
  login: DriverLogin,
  to: [user: string, password: string][],
): Promise<void> {
  await driverLogin(server, attempts, login, async (s) => {
    for (const [user, password] of to) await changeUser(s, attempts, { user, password });
  });
}

/** Marks the attempts `fn` makes with the step they belong to. */
async function step(attempts: Attempt[], name: string, fn: () => Promise<unknown>): Promise<void> {
  const from = attempts.length;
  await fn();
  for (const a of attempts.slice(from)) a.step = name;
}

/** Waits until the audit log stops growing (the server writes `DISCONNECT` after the client left). */
async function settledSize(path: string): Promise<number> {
  let size = -1;
  for (let i = 0; i < 50; i++) {
    await pause(200);
    const now = (await Deno.stat(path)).size;
    if (now === size) return size;
    size = now;
  }
  throw new Error(`${path} keeps growing`);
}

/** The accounts of {@link playShapes}: names and a default database with commas in them. */
export const SHAPES_SQL = `
  CREATE DATABASE \`sales,2024\`;
  CREATE TABLE \`sales,2024\`.notes (body MEDIUMTEXT);
  CREATE USER 'app'@'%' IDENTIFIED BY 'pw-app';
  CREATE USER 'a,b'@'%' IDENTIFIED BY 'pw-ab';
  CREATE USER 'ops,127.0.0.1'@'localhost' IDENTIFIED BY 'pw-ops';
  GRANT ALL ON \`sales,2024\`.* TO 'app'@'%', 'a,b'@'%';
`;

/** The default database with a comma in its name. */
const SALES = "sales,2024";

/**
 * Plays the shapes the end-to-end scenario leaves out (issue 12, 14): a
 * default database and user names with commas, change-user to and from them,
 * a rotated file whose first line is a 12 KB query, TCP health checks, a brute
 * force on `root`, a made-up user and a dropped account. Needs
 * `server_audit_events=CONNECT,QUERY` and `server_audit_query_log_limit=65536`.
 *
 * @example
 * ```ts
 * const attempts = await playShapes(server);
 * ```
 */
export async function playShapes(server: MariaDb): Promise<Attempt[]> {
  await rootSql(server, SHAPES_SQL);
  const attempts: Attempt[] = [];
  type Try = [user: string, password: string, via: Via, database?: string];
  const all = async (tries: Try[]) => {
    for (const [user, password, via, database] of tries) {
      await driverLogin(server, attempts, { user, password, via, database });
    }
  };

  await step(attempts, "default database with a comma", () =>
    all([
      ["app", "pw-app", "socket", SALES],
      ["app", "pw-app", "tcp", SALES],
      ["app", "pw-app", "tcp2", SALES],
      ["a,b", "pw-ab", "tcp", SALES],
      ["app", "wrong", "tcp", SALES],
      // The password is right, the database is refused (1044).
      ["ops,127.0.0.1", "pw-ops", "socket", SALES],
    ]));
  await step(attempts, "user names with commas", () =>
    all([
      ["a,b", "pw-ab", "socket"],
      ["a,b", "pw-ab", "tcp"],
      ["a,b", "wrong", "tcp2"],
      ["ops,127.0.0.1", "pw-ops", "socket"],
      // Only 'ops,127.0.0.1'@'localhost' exists: refused over TCP.
      ["ops,127.0.0.1", "pw-ops", "tcp"],
      ["ops,127.0.0.1", "wrong", "socket"],
    ]));
  await step(attempts, "change-user to and from names with commas", async () => {
    await changingUser(server, attempts, { user: "app", password: "pw-app", via: "socket" }, [
      ["ops,127.0.0.1", "pw-ops"],
      ["a,b", "pw-ab"],
      ["app", "pw-app"],
      ["ops,127.0.0.1", "pw-ops"],
      ["a,b", "wrong"],
    ]);
    const ab = { user: "a,b", password: "pw-ab", via: "tcp", database: SALES } as const;
    await changingUser(server, attempts, ab, [["app", "pw-app"]]);
  });
  await step(attempts, "TCP health checks", async () => {
    await healthCheck(server, attempts, { readGreeting: false });
    await healthCheck(server, attempts, { readGreeting: true });
    await healthCheck(server, attempts, { readGreeting: false });
  });
  await step(
    attempts,
    "brute force on root over TCP",
    () =>
      all(["123456", "password", "root", "admin", "toor"].map((guess) => ["root", guess, "tcp"])),
  );
  await step(attempts, "made-up user", () =>
    all([
      ["nosuchuser", "x", "tcp"],
      ["nosuchuser", "x", "socket"],
    ]));
  await step(attempts, "account created, used and dropped", async () => {
    await rootSql(server, "CREATE USER 'temp'@'%' IDENTIFIED BY 'pw-temp';");
    await all([["temp", "pw-temp", "tcp"], ["temp", "pw-temp", "socket"]]);
    await rootSql(server, "DROP USER 'temp'@'%';");
    await all([["temp", "pw-temp", "tcp"]]);
  });
  await step(attempts, "a rotated file that begins with a 12 KB query", async () => {
    await longFirstLine(server, attempts);
  });
  await step(attempts, "after the long line, in the same file", async () => {
    const round: Try[] = [
      ["app", "pw-app", "socket", SALES],
      ["app", "pw-app", "tcp"],
      ["a,b", "pw-ab", "tcp2", SALES],
      ["a,b", "pw-ab", "socket"],
      ["ops,127.0.0.1", "pw-ops", "socket"],
    ];
    await all([...round, ...round, ...round, ...round]);
    await all([
      ["app", "wrong", "tcp"],
      ["a,b", "wrong", "socket"],
      ["nosuchuser", "x", "tcp2"],
      ["root", "letmein", "tcp"],
    ]);
    await changingUser(server, attempts, { user: "app", password: "pw-app", via: "tcp" }, [
      ["a,b", "pw-ab"],
    ]);
  });
  await withAdmin(server, (s) => s.conn.query("SET GLOBAL server_audit_file_rotate_now = ON"));
  await pause(1100);
  await step(attempts, "the live file", () =>
    all([
      ["app", "pw-app", "tcp", SALES],
      ["a,b", "pw-ab", "socket"],
    ]));
  return attempts;
}

/**
 * Makes the plugin rotate by size right before a 12 KB `INSERT` (logged whole with
 * `server_audit_query_log_limit=65536`): the new file's first line is that query.
 * The plugin rotates before writing a line when the file has reached
 * `server_audit_file_rotate_size`; statements are logged after they ran.
 */
async function longFirstLine(server: MariaDb, attempts: Attempt[]): Promise<void> {
  await driverLogin(
    server,
    attempts,
    { user: "app", password: "pw-app", via: "tcp", database: SALES },
    async (app) => {
      await withAdmin(server, async (admin) => {
        const size = await settledSize(server.auditLog);
        await admin.conn.query(`SET GLOBAL server_audit_file_rotate_size = ${size + 3000}`);
        await admin.conn.query(`SELECT '${"p".repeat(4000)}' AS padding`);
        const body = Array.from({ length: 200 }, (_, i) => `line ${i}: ${"x".repeat(50)}`);
        await app.conn.query(`INSERT INTO notes VALUES ('${body.join("\\n")}')`);
        await admin.conn.query("SET GLOBAL server_audit_file_rotate_size = 1000000");
      });
    },
  );
}

/**
 * The accounts of {@link playResolve}: the same user at an IP, a name and `%`;
 * at an IP and `%`; a pattern, a netmask, a name only, the machine's host name,
 * an anonymous user.
 *
 * @example
 * ```ts
 * await rootSql(server, resolveSql(Deno.hostname()));
 * ```
 */
export function resolveSql(hostname: string): string {
  return `
  CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'pw-ip';
  CREATE USER 'app'@'localhost' IDENTIFIED BY 'pw-name';
  CREATE USER 'app'@'%' IDENTIFIED BY 'pw-any';
  CREATE USER 'svc'@'127.0.0.1' IDENTIFIED BY 'pw-svc-ip';
  CREATE USER 'svc'@'%' IDENTIFIED BY 'pw-svc-any';
  CREATE USER 'web'@'127.0.0.%' IDENTIFIED BY 'pw-web';
  CREATE USER 'ops'@'localhost' IDENTIFIED BY 'pw-ops';
  CREATE USER 'rep'@'127.0.0.2' IDENTIFIED BY 'pw-rep';
  CREATE USER 'rep'@'%' IDENTIFIED BY 'pw-rep-any';
  CREATE USER 'net'@'127.0.0.0/255.255.255.0' IDENTIFIED BY 'pw-net';
  CREATE USER 'db'@'${hostname}' IDENTIFIED BY 'pw-db';
  CREATE USER ''@'localhost' IDENTIFIED BY 'pw-anon';
  CREATE USER 'unused'@'%' IDENTIFIED BY 'pw-unused';
`;
}

/**
 * Plays logins against a server that resolves client addresses to names
 * (no `--skip-name-resolve`): every user with each of its passwords over the
 * socket, TCP from 127.0.0.1 and TCP from 127.0.0.2, and change-users. Each
 * attempt records `CURRENT_USER()`; the host the log wrote is only known from
 * the log (the capture fills it in).
 *
 * @example
 * ```ts
 * const attempts = await playResolve(server);
 * ```
 */
export async function playResolve(server: MariaDb): Promise<Attempt[]> {
  await rootSql(server, resolveSql(Deno.hostname()));
  const attempts: Attempt[] = [];
  const tries: [string, string[]][] = [
    ["app", ["pw-ip", "pw-name", "pw-any"]],
    ["svc", ["pw-svc-ip", "pw-svc-any"]],
    ["web", ["pw-web"]],
    ["ops", ["pw-ops"]],
    ["rep", ["pw-rep", "pw-rep-any"]],
    ["net", ["pw-net"]],
    ["db", ["pw-db"]],
    ["nobody", ["pw-anon"]],
  ];
  for (const via of ["socket", "tcp", "tcp2"] as const) {
    await step(attempts, `every user and password, ${via}`, async () => {
      for (const [user, passwords] of tries) {
        for (const password of passwords) {
          await driverLogin(server, attempts, { user, password, via });
        }
      }
    });
  }
  await step(attempts, "change-user", async () => {
    await changingUser(server, attempts, { user: "net", password: "pw-net", via: "tcp" }, [
      ["ops", "pw-ops"],
      ["app", "pw-ip"],
    ]);
    await changingUser(server, attempts, { user: "rep", password: "pw-rep", via: "tcp2" }, [
      ["app", "pw-any"],
    ]);
  });
  return attempts;
}
