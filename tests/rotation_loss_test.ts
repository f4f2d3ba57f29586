/**
 * Losses to the plugin's own rotation, against a real MariaDB server with a
 * small `server_audit_file_rotate_size` and few `server_audit_file_rotations`:
 * every login the test makes is a distinct account, so the activity table says
 * exactly which were counted; the ledger of the test's logins is the oracle.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { dirname, join } from "node:path";
import mysql from "mysql2/promise";
import { runCli, sqlite3, withTempDir, writeConfig } from "./helpers.ts";
import { HAVE_MARIADB, type MariaDb, rootSql, SERVER_TZ, withMariaDb } from "./mariadb.ts";

const CI = Boolean(Deno.env.get("CI"));
if (!HAVE_MARIADB && !CI) {
  console.error("\n*** SKIPPING the rotation loss tests: mariadbd not found ***\n");
}

/** One login the test made: a distinct user, and the wall-clock window it ran in. */
interface Made {
  user: string;
  ok: boolean;
  before: number;
  after: number;
}

/**
 * Logs in `n` times over TCP, each as a new user (`ok`) or a user that does not
 * exist, `pauseMs` apart (the server stamps whole seconds: a burst over several
 * seconds tells a loss range from the rest).
 */
async function burst(
  server: MariaDb,
  ledger: Made[],
  n: number,
  options: { tag: string; pauseMs?: number },
): Promise<void> {
  const { tag, pauseMs = 0 } = options;
  const users = Array.from({ length: n }, (_, i) => `${tag}${i}`);
  const ok = (i: number) => i % 5 !== 4;
  await rootSql(
    server,
    users.filter((_, i) => ok(i)).map((u) => `CREATE USER '${u}'@'%' IDENTIFIED BY 'pw';`)
      .join("\n"),
  );
  for (const [i, user] of users.entries()) {
    const before = Date.now();
    try {
      const conn = await mysql.createConnection({
        host: "127.0.0.1",
        port: server.port,
        user,
        password: "pw",
      });
      await conn.end();
    } catch {
      // A refused login: its user does not exist.
    }
    ledger.push({ user, ok: ok(i), before, after: Date.now() });
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/** Per user: logins and failed attempts counted. */
async function counted(db: string): Promise<Map<string, { logins: number; failed: number }>> {
  const rows = await sqlite3(db, "SELECT name, logins, failed_attempts FROM activity;");
  return new Map(rows.map(([n, l, f]) => [n, { logins: Number(l), failed: Number(f) }]));
}

/** Whether an attempt's window (the server stamps whole seconds) meets a loss range. */
function inLoss(m: Made, losses: [number, number][]): boolean {
  const from = Math.floor((m.before - 50) / 1000) * 1000;
  return losses.some(([a, b]) => from <= b && m.after >= a);
}

Deno.test({
  name:
    "rotation: a burst pushing unread files through the plugin's rotation is a loss whose range holds every login not counted; renames alone are not",
  ignore: !HAVE_MARIADB && !CI,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withTempDir(async (work) => {
      await withMariaDb({ events: "CONNECT", rotateSize: 2048, rotations: 2 }, async (server) => {
        const config = await writeConfig(work, {
          AuditLogPath: dirname(server.auditLog),
          TimeLocation: SERVER_TZ,
        });
        const db = join(work, "audit.sqlite");
        const ledger: Made[] = [];
        const check = async (made: Made[]) => {
          const got = await counted(db);
          for (const m of made) {
            const c = got.get(m.user);
            assertEquals(c, m.ok ? { logins: 1, failed: 0 } : { logins: 0, failed: 1 }, m.user);
          }
        };

        // Steady state: runs come often enough; the oldest file is deleted, but it was read.
        for (let round = 0; round < 6; round++) {
          const made: Made[] = [];
          await burst(server, made, 16, { tag: `s${round}x` });
          ledger.push(...made);
          const run = await runCli(["--config", config]);
          assertEquals([run.code, run.stderr], [0, ""], `round ${round}`);
          await check(made);
        }
        assertEquals(await sqlite3(db, "SELECT count(*) FROM losses;"), [["0"]]);
        const [[deleted]] = await sqlite3(
          db,
          "SELECT count(*) FROM checkpoints WHERE state = 'gone';",
        );
        assert(Number(deleted) >= 2, `${deleted} files deleted by rotation: not the steady state`);

        // A burst between two runs: the file being written rotates through the chain unread.
        const made: Made[] = [];
        await burst(server, made, 150, { tag: "b", pauseMs: 40 });
        const run = await runCli(["--config", config]);
        assertEquals(run.code, 3, run.stderr);
        assert(
          /level=ERROR msg="audit file removed before it was read to the end: events lost"/
            .test(run.stderr),
          run.stderr,
        );
        assert(
          /level=ERROR msg="\d+ audit files? rotated away and \d+ appeared since the last run [\d.]+ minutes ago: the cron interval is too long/
            .test(run.stderr),
          run.stderr,
        );
        const losses = (await sqlite3(db, "SELECT from_ms, to_ms FROM losses;"))
          .map(([a, b]) => [Number(a), Number(b)] as [number, number]);
        assert(losses.length > 0);
        const got = await counted(db);
        const missed = made.filter((m) => !got.has(m.user));
        assert(missed.length > 0, "the burst lost nothing: the test proves nothing");
        assert(
          made.some((m) => !inLoss(m, losses)),
          `the loss range ${JSON.stringify(losses)} covers the whole burst: it says nothing`,
        );
        for (const m of missed) assert(inLoss(m, losses), `${m.user} is neither counted nor lost`);
        // What was counted, was counted once; counted and lost make up the ledger.
        await check(made.filter((m) => got.has(m.user)));
        assertEquals(
          made.filter((m) => got.has(m.user) || inLoss(m, losses)).length,
          made.length,
        );
        ledger.push(...made);
        // Reported once.
        const again = await runCli(["--config", config]);
        assertEquals([again.code, again.stderr], [0, ""]);

        // Rotation that only renames (more files kept): nothing lost, every login counted.
        await rootSql(server, "SET GLOBAL server_audit_file_rotations = 30;");
        const renamed: Made[] = [];
        await burst(server, renamed, 60, { tag: "r" });
        const files = [...Deno.readDirSync(dirname(server.auditLog))].length;
        assert(files >= 4, `${files} files: the burst did not rotate`);
        const last = await runCli(["--config", config]);
        assertEquals([last.code, last.stderr], [0, ""]);
        await check(renamed);
        assertEquals(await sqlite3(db, "SELECT count(*) FROM losses;"), [[String(losses.length)]]);
      });
    });
  },
});
