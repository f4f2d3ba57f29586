/**
 * The central-store test helper against real servers: a 3-node Galera
 * cluster that replicates, loses a node to SIGKILL and to SIGSTOP, is stopped
 * entirely and comes back; and one plain MariaDB server. Expected rows come
 * from a ledger of the writes the servers acknowledged.
 */

import {
  deepStrictEqual as assertEquals,
  notStrictEqual as assertNotEquals,
  ok as assert,
  rejects as assertRejects,
  strictEqual,
} from "node:assert";
import mysql from "mysql2/promise";
import {
  type Central,
  type CentralNode,
  type DatabaseUser,
  readGraState,
  ServerStartError,
  startCentral,
  startCluster,
} from "./galera.ts";
import { real } from "./real.ts";

/** A TCP connection as the least-privilege account, its password read from its file. */
async function connectAs(
  node: CentralNode,
  account: DatabaseUser,
  connectTimeout = 10_000,
): Promise<mysql.Connection> {
  const password = (await Deno.readTextFile(account.passwordFile)).trimEnd();
  return await mysql.createConnection({
    host: node.host,
    port: node.port,
    user: account.user,
    password,
    database: account.database,
    connectTimeout,
  });
}

/** The ledger ids each node holds, read after it has applied everything before the read. */
async function idsOnEveryNode(central: Central): Promise<number[][]> {
  const seen = [];
  for (const node of central.nodes) {
    const rows = await central.sql(
      node,
      "SET STATEMENT wsrep_sync_wait=1 FOR SELECT id FROM fleet.ledger ORDER BY id",
    );
    seen.push(rows.map((r) => Number(r.id)));
  }
  return seen;
}

async function wsrepStatus(central: Central, node: CentralNode, name: string): Promise<string> {
  const rows = await central.sql(node, "SHOW STATUS LIKE ?", [name]);
  return String(rows[0]?.Value);
}

/** The uid a process runs as, from `/proc`. */
async function uidOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/^Uid:\s+(\d+)/m)![1]);
}

async function mysqlUid(): Promise<number> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  return Number(passwd.match(/^mysql:[^:]*:(\d+):/m)![1]);
}

function existsProc(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** What `pgrep -a -f` lists for `text`: processes whose command line names it. */
async function commandLinesNaming(text: string): Promise<string[]> {
  const out = await new Deno.Command("pgrep", { args: ["-a", "-f", text], stdout: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l);
}

async function elapsed(fn: () => Promise<unknown>): Promise<number> {
  const start = Date.now();
  await fn();
  return Date.now() - start;
}

real(
  "startCluster(): 3 nodes replicate, survive a SIGKILLed and a frozen node, and restart whole",
  ["galera"],
  async (t) => {
    const pids = new Set<number>();
    let dir = "";
    {
      await using cluster = await startCluster();
      dir = cluster.dir;
      const [n1, n2, n3] = cluster.nodes;
      const remember = () => cluster.nodes.forEach((n) => n.pid && pids.add(n.pid));
      remember();
      const account = await cluster.createDatabaseUser({ database: "fleet", user: "pusher" });
      /** The ids whose INSERT the cluster acknowledged. */
      const ledger: number[] = [];
      let conn1 = await connectAs(n1, account);
      await conn1.query("CREATE TABLE ledger (id INT PRIMARY KEY, via VARCHAR(16) NOT NULL)");
      const write = async (conn: mysql.Connection, id: number, via: CentralNode) => {
        await conn.query({
          sql: "INSERT INTO ledger VALUES (?, ?)",
          values: [id, via.name],
          timeout: 30_000,
        });
        ledger.push(id);
      };

      await t.step(
        "each node runs as mysql, in its own dirs, on its own ports, Synced",
        async () => {
          const uid = await mysqlUid();
          for (const node of cluster.nodes) {
            strictEqual(await uidOf(node.pid!), uid);
            assert(node.datadir.startsWith(`${cluster.dir}/${node.name}/`));
            strictEqual(await wsrepStatus(cluster, node, "wsrep_cluster_size"), "3");
            strictEqual(await wsrepStatus(cluster, node, "wsrep_local_state_comment"), "Synced");
          }
          const ports = cluster.nodes.flatMap((n) => [
            n.port,
            n.galera!.gcomm,
            n.galera!.ist,
            n.galera!.sst,
          ]);
          strictEqual(new Set(ports).size, 12);
        },
      );

      await t.step("a write through node 1 is read on node 3 with wsrep_sync_wait=1", async () => {
        const conn3 = await connectAs(n3, account);
        await conn3.query("SET SESSION wsrep_sync_wait = 1");
        for (let id = 1; id <= 20; id++) {
          await write(conn1, id, n1);
          const [rows] = await conn3.query("SELECT via FROM ledger WHERE id = ?", [id]);
          assertEquals(rows, [{ via: "node1" }]);
        }
        await conn3.end();
      });

      await t.step("node 2 SIGKILLed during writes rejoins by IST; all nodes agree", async () => {
        const before = n2.pid!;
        const logBefore = (await Deno.readTextFile(n2.errorLog)).length;
        let slowest = 0;
        let killed: Promise<void> | undefined;
        for (let id = 101; id <= 140; id++) {
          const writing = elapsed(() => write(conn1, id, n1));
          if (id === 111) killed = cluster.kill(n2);
          slowest = Math.max(slowest, await writing);
        }
        await killed;
        assert(!existsProc(before), "node 2's process is gone");
        await cluster.restart(n2);
        remember();
        assertNotEquals(n2.pid, before);
        const log = (await Deno.readTextFile(n2.errorLog)).slice(logBefore);
        assert(/Receiving IST: \d+ writesets/.test(log), "node 2 rejoined by IST, not SST");
        assertEquals(await idsOnEveryNode(cluster), [ledger, ledger, ledger]);
        console.error(`  slowest write while node 2 died: ${slowest} ms`);
      });

      await t.step("a frozen node fails a query in bounded time; the others go on", async () => {
        const conn3 = await connectAs(n3, account);
        cluster.freeze(n3);
        for (const node of [n1, n2]) {
          const rows = await cluster.sql(node, "SELECT COUNT(*) AS n FROM fleet.ledger");
          assertEquals(rows, [{ n: ledger.length }]);
        }
        // Writes wait until the others drop node 3 (evs.suspect_timeout), then go on.
        const writing = elapsed(() => write(conn1, 201, n1));
        const err = await assertRejectsWithin(
          () => conn3.query({ sql: "SELECT 1", timeout: 2000 }),
          2000,
        );
        strictEqual(err.code, "PROTOCOL_SEQUENCE_TIMEOUT");
        conn3.destroy();
        await assertRejectsWithin(() => connectAs(n3, account, 2000), 2000);
        console.error(`  a write while node 3 was frozen took ${await writing} ms`);
        cluster.thaw(n3);
        await cluster.waitSynced(n3);
        assertEquals(await idsOnEveryNode(cluster), [ledger, ledger, ledger]);
      });

      await t.step(
        "stopped entirely, it bootstraps again from the node that left last",
        async () => {
          await conn1.end();
          await cluster.shutdown(n1);
          const conn2 = await connectAs(n2, account);
          for (let id = 301; id <= 305; id++) await write(conn2, id, n2);
          await conn2.end();
          await cluster.stopAll();
          const states = await Promise.all(cluster.nodes.map(readGraState));
          assertEquals(states.map((s) => s?.safeToBootstrap), [false, true, false]);
          assert(states[0]!.seqno < states[1]!.seqno, "node 1 is behind");
          await assertRejectsWithin(() => connectAs(n2, account, 2000), 1000);
          strictEqual(await cluster.startAll(), n2);
          remember();
          assertEquals(await idsOnEveryNode(cluster), [ledger, ledger, ledger]);
        },
      );

      await t.step(
        "killed all at once, it bootstraps from the most advanced position",
        async () => {
          await cluster.kill(n3);
          conn1 = await connectAs(n1, account);
          for (let id = 401; id <= 405; id++) await write(conn1, id, n1);
          await conn1.end();
          await cluster.stopAll({ signal: "SIGKILL" });
          const states = await Promise.all(cluster.nodes.map(readGraState));
          assertEquals(states.map((s) => s?.safeToBootstrap), [false, false, false]);
          const first = await cluster.startAll();
          assert(first === n1 || first === n2, `bootstrapped from ${first?.name}, not node 3`);
          remember();
          assertEquals(await idsOnEveryNode(cluster), [ledger, ledger, ledger]);
          for (const node of cluster.nodes) {
            strictEqual(await wsrepStatus(cluster, node, "wsrep_cluster_size"), "3");
          }
        },
      );
    }
    assertEquals([...pids].filter(existsProc), [], "every server process is gone");
    assertEquals(await commandLinesNaming(dir), [], "no SST script or rsync daemon is left");
    await assertRejects(() => Deno.stat(dir), Deno.errors.NotFound);
  },
);

/** Asserts that `fn` rejects, and no later than `ms` plus a second. */
async function assertRejectsWithin(
  fn: () => Promise<unknown>,
  ms: number,
): Promise<Error & { code?: string }> {
  const start = Date.now();
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  const took = Date.now() - start;
  assert(error instanceof Error, "it failed");
  assert(took <= ms + 1000, `it failed after ${took} ms, not within ${ms} ms`);
  return error as Error & { code?: string };
}

real(
  "startCluster(): a node that cannot start fails with its error log, and nothing is left",
  ["galera"],
  async () => {
    // Its own parent directory: other tests' clusters come and go in the system's.
    const parent = await Deno.makeTempDir({ prefix: "cg-" });
    await Deno.chmod(parent, 0o755);
    try {
      await assertRejects(
        () => startCluster({ nodes: 1, config: ["no_such_option=1"], parent }),
        (e: Error) => e instanceof ServerStartError && /no_such_option/.test(e.message),
      );
      assertEquals(await Array.fromAsync(Deno.readDir(parent)), []);
    } finally {
      await Deno.remove(parent, { recursive: true });
    }
  },
);

real(
  "startCentral(): a plain server takes a mysql2 connection as a least-privilege user",
  ["mariadb"],
  async () => {
    const pids: number[] = [];
    {
      await using central = await startCentral();
      const [node] = central.nodes;
      pids.push(node.pid!);
      strictEqual(await uidOf(node.pid!), await mysqlUid());
      const account = await central.createDatabaseUser({ database: "fleet", user: "pusher" });
      const conn = await connectAs(node, account);
      const [rows] = await conn.query("SELECT CURRENT_USER() AS cu, @@wsrep_on AS wsrep");
      assertEquals(rows, [{ cu: "pusher@127.0.0.1", wsrep: 0 }]);
      await conn.query("CREATE TABLE ledger (id INT PRIMARY KEY)");
      await conn.query("INSERT INTO ledger VALUES (1)");
      await assertRejects(
        () => conn.query("SELECT * FROM mysql.user"),
        (e: { errno?: number }) => e.errno === 1142,
      );
      await conn.end();

      await central.stopAll();
      await assertRejectsWithin(() => connectAs(node, account, 2000), 1000);
      strictEqual(await central.startAll(), undefined);
      pids.push(node.pid!);
      const again = await connectAs(node, account);
      const [kept] = await again.query("SELECT id FROM ledger");
      assertEquals(kept, [{ id: 1 }]);
      await again.end();
    }
    assertEquals(pids.filter(existsProc), [], "every server process is gone");
  },
);
