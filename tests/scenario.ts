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
import { type Attempt, login, type MariaDb, rootSql } from "./mariadb.ts";

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
