/**
 * Pushing to a real 3-node Galera cluster: three simulated servers (their own
 * audit logs written by `tests/fleet.ts`, different `serverhost`, their own
 * local databases) run the real CLI (`main()`) while nodes are SIGKILLed,
 * frozen and the whole cluster is stopped; after the next runs the central
 * tables on every node equal the ledger of what their logs hold, and the
 * fleet report equals what the ledgers and the cluster's own `mysql.user`
 * say. One cluster is shared by the steps.
 */

import { deepStrictEqual as assertEquals, notStrictEqual, ok as assert } from "node:assert";
import { join } from "node:path";
import { accountKey } from "../lib/format/account.ts";
import { TIMEOUTS } from "../lib/push/connect.ts";
import { main } from "../main.ts";
import {
  append,
  centralActivity,
  centralKeys,
  copyDatabase,
  createServer,
  expectedActivity,
  fleetJson,
  generate,
  restoreDatabase,
  type SimServer,
  writeServerConfig,
} from "./fleet.ts";
import { type Central, startCluster } from "./galera.ts";
import { prng, runCli } from "./helpers.ts";
import { real } from "./real.ts";

const DAY = 86_400_000;

/** A local run, its push included, never takes longer than the push deadline and a margin. */
const RUN_BOUND_MS = TIMEOUTS.deadlineMs + 5_000;

/** The users the cluster defines as `'u'@'%'`; `ghost` is logged but defined nowhere. */
const USERS = Array.from({ length: 12 }, (_, i) => `u${String(i + 1).padStart(2, "0")}`);

/** Runs the CLI of each server at once; checks exit code 0 and the time bound. */
async function runAll(servers: SimServer[], during?: () => Promise<void>): Promise<number[]> {
  const runs = servers.map(async (s) => {
    const start = Date.now();
    const code = await main(["--config", s.config]);
    return { code, ms: Date.now() - start };
  });
  await during?.();
  const done = await Promise.all(runs);
  for (const [i, r] of done.entries()) {
    assertEquals(r.code, 0, `run of ${servers[i].id}`);
    assert(r.ms <= RUN_BOUND_MS, `run of ${servers[i].id} took ${r.ms} ms`);
  }
  return done.map((r) => r.ms);
}

async function assertEveryNode(central: Central, servers: SimServer[]): Promise<void> {
  const expected = expectedActivity(servers);
  for (const node of central.nodes) {
    assertEquals(await centralActivity(central, node, "fleet"), expected, node.name);
  }
}

/** Rows changed in the central tables on each node, from the server's own statistics. */
async function rowsChanged(central: Central): Promise<number[]> {
  const counts = [];
  for (const node of central.nodes) {
    const rows = await central.sql(
      node,
      `SELECT COALESCE(SUM(ROWS_CHANGED), 0) AS n FROM information_schema.TABLE_STATISTICS
       WHERE TABLE_SCHEMA = 'fleet' AND TABLE_NAME IN ('activity', 'proxy_logins',
         'defined_accounts')`,
    );
    counts.push(Number(rows[0].n));
  }
  return counts;
}

/** `count` events per server over the given days back, from hosts of `round`. */
async function appendRound(
  random: () => number,
  servers: SimServer[],
  options: { round: number; count: number; fromDays: number; toDays: number; hosts?: number },
): Promise<void> {
  const now = Date.now();
  for (const s of servers) {
    const hosts = Array.from(
      { length: options.hosts ?? 250 },
      (_, k) => `10.${options.round}.${k >> 8}.${k & 255}`,
    );
    await append(
      s,
      generate(random, {
        users: [...USERS, "ghost"],
        hosts,
        count: options.count,
        fromMs: now - options.fromDays * DAY,
        toMs: now - options.toDays * DAY,
      }),
    );
  }
}

/** What the fleet report must say, from the ledgers and the cluster's `mysql.user`. */
function expectedReport(
  options: {
    cluster: string;
    clustered: SimServer[];
    defined: { user: string; host: string }[];
    alone: SimServer;
    since: number;
    /** The account the clustered servers' pushes log in to their local server as. */
    self: { user: string; host: string };
  },
) {
  const rows = [];
  for (const a of options.defined) {
    let logins = 0, failed = 0, last: number | undefined;
    const seenBy = [];
    for (const s of options.clustered) {
      let saw = false;
      for (const t of s.ledger.values()) {
        // Every logged user is defined only as 'u'@'%': it is that account.
        if (a.host !== "%" || t.user !== a.user) continue;
        logins += t.logins;
        failed += t.failed;
        if (t.lastLogin !== undefined) [saw, last] = [true, Math.max(last ?? 0, t.lastLogin)];
      }
      if (saw) seenBy.push(s.id);
    }
    const mine = a.user === options.self.user && a.host === options.self.host;
    const status = last !== undefined && last >= options.since
      ? "used"
      // The push's own login to its server is a doubt that covers the period.
      : mine
      ? "unknown"
      : last === undefined
      ? "never-seen"
      : "unused";
    rows.push({
      cluster: options.cluster,
      name: a.user,
      host: a.host,
      status,
      logins,
      failed_attempts: failed,
      seen_by: seenBy,
      defined_on: options.clustered.map((s) => s.id).sort(),
    });
  }
  // The server on its own defines nothing it pushed: one row per logged user@host, and its log
  // is younger than the period, so what was not used in it is unknown.
  for (const t of options.alone.ledger.values()) {
    const used = t.lastLogin !== undefined && t.lastLogin >= options.since;
    rows.push({
      cluster: "",
      name: t.user,
      host: t.host,
      status: used ? "used" : "unknown",
      logins: t.logins,
      failed_attempts: t.failed,
      seen_by: t.logins > 0 ? [options.alone.id] : [],
      defined_on: [],
    });
  }
  return rows.sort(byAccount);
}

type Comparable = { cluster: string; name: string; host: string };

function byAccount(a: Comparable, b: Comparable): number {
  const ka = `${a.cluster}\0${accountKey(a.name, a.host)}`;
  const kb = `${b.cluster}\0${accountKey(b.name, b.host)}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function comparable(rows: Record<string, unknown>[]) {
  return rows.map((r) => ({
    cluster: r.cluster,
    name: r.name,
    host: r.host,
    status: r.status,
    logins: r.logins,
    failed_attempts: r.failed_attempts,
    seen_by: r.seen_by,
    defined_on: r.defined_on,
  })).sort((a, b) => byAccount(a as Comparable, b as Comparable));
}

real(
  "push: three servers into a 3-node Galera cluster through kills, a freeze and a stop",
  ["galera"],
  async (t) => {
    const root = await Deno.makeTempDir({ prefix: "conntracker-push-" });
    try {
      await using cluster = await startCluster({ config: ["userstat=1"] });
      const [n1, n2, n3] = cluster.nodes;
      const pusher = await cluster.createDatabaseUser({ database: "fleet", user: "pusher" });
      const reader = await cluster.createDatabaseUser({
        database: "fleet",
        user: "reader",
        privileges: "SELECT",
      });
      for (const u of USERS) await cluster.sql(n1, "CREATE USER ?@'%'", [u]);
      const clientFile = async (id: string, socket: string) => {
        const file = join(root, `${id}.cnf`);
        await Deno.writeTextFile(file, `[client]\nsocket=${socket}\nuser=root\n`);
        return file;
      };
      // a and b are nodes of a cluster: their local server (here a node of the central
      // cluster itself) names the cluster and defines the accounts. c stands alone and
      // cannot ask its server anything.
      const a = await createServer(root, {
        id: "a",
        serverHost: "db-a",
        central: centralKeys(pusher, [n1, n2, n3], "a"),
        keys: { MariadbDefaultsFile: await clientFile("a", n1.socket) },
      });
      const b = await createServer(root, {
        id: "b",
        serverHost: "db-b",
        central: centralKeys(pusher, [n2, n3, n1], "b"),
        keys: { MariadbDefaultsFile: await clientFile("b", n2.socket) },
      });
      const c = await createServer(root, {
        id: "c",
        serverHost: "db-c",
        central: { ...centralKeys(pusher, [n3, n1, n2], "c"), PushAccounts: "false" },
        keys: { MariadbClient: "/bin/false" },
      });
      const servers = [a, b, c];
      const random = prng(18);
      const times: Record<string, number[]> = {};

      await t.step("first runs push every row; every node holds the ledger", async () => {
        await appendRound(random, [a, b], { round: 0, count: 3000, fromDays: 40, toDays: 31 });
        await appendRound(random, [c], { round: 0, count: 3000, fromDays: 9, toDays: 1 });
        await appendRound(random, [a, b], { round: 1, count: 500, fromDays: 20, toDays: 1 });
        times.first = await runAll(servers);
        await assertEveryNode(cluster, servers);
        const rows = await cluster.sql(
          n3,
          "SET STATEMENT wsrep_sync_wait=1 FOR SELECT server_id, cluster FROM fleet.servers " +
            "ORDER BY server_id",
        );
        assertEquals(rows, [
          { server_id: "a", cluster: cluster.clusterName },
          { server_id: "b", cluster: cluster.clusterName },
          { server_id: "c", cluster: "" },
        ]);
        // What a's push logged in to its local server as, as that server names it.
        const [self] = await cluster.sql(n1, "SELECT CURRENT_USER() AS cu, USER() AS u");
        const [pushed] = await cluster.sql(
          n1,
          "SELECT CONCAT(self_user, '@', self_host) AS cu, CONCAT(client_user, '@', client_host) " +
            "AS u, name_resolution FROM fleet.servers WHERE server_id = 'a'",
        );
        assertEquals(pushed, { ...self, name_resolution: "off" });
      });

      await t.step(
        "runs with nothing new change no row; a small change only its rows",
        async () => {
          const before = await rowsChanged(cluster);
          times.idle = await runAll(servers);
          assertEquals(await rowsChanged(cluster), before);
          const now = Date.now();
          await append(a, [
            { user: "u01", host: "10.9.9.1", ok: true, at: now - 1000 },
            { user: "u02", host: "10.9.9.2", ok: false, at: now - 1000 },
          ]);
          await runAll(servers);
          const after = await rowsChanged(cluster);
          assertEquals(after[0] - before[0], 2, "node 1 took a's two rows");
          await assertEveryNode(cluster, servers);
        },
      );

      const copy = join(root, "a-copy.sqlite");
      await copyDatabase(a.sqlite, copy);

      await t.step("node 1 SIGKILLed during pushes, then restarted", async () => {
        // a's push is some 10 chunks long; b and c push through node 1 last.
        await appendRound(random, [a], {
          round: 2,
          count: 20000,
          fromDays: 1,
          toDays: 0.5,
          hosts: 1000,
        });
        await appendRound(random, [b, c], { round: 2, count: 5000, fromDays: 1, toDays: 0.5 });
        const count = async () =>
          Number(
            (await cluster.sql(
              n2,
              "SELECT COUNT(*) AS n FROM fleet.activity WHERE server_id = 'a'",
            ))[0].n,
          );
        const start = await count();
        // a runs as cron runs it, and says what its push did.
        const pushOf = runCli(["--config", a.config, "--json"]);
        times.killed = await runAll([b, c], async () => {
          // Kill node 1 once a's push has committed its first chunk there.
          const deadline = Date.now() + 30_000;
          while (await count() === start && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          await cluster.kill(n1);
        });
        const ran = await pushOf;
        assertEquals(ran.code, 0, ran.stderr);
        const { push } = JSON.parse(ran.stdout);
        assert(push.ok && push.failovers >= 1, `a's push went on on node 2: ${ran.stdout}`);
        console.error(`  a's push while node 1 died: ${JSON.stringify(push)}`);
        await cluster.restart(n1);
        times.afterKill = await runAll(servers);
        await assertEveryNode(cluster, servers);
      });

      await t.step(
        "node 2 frozen (SIGSTOP): runs stay bounded; thawed, it catches up",
        async () => {
          await appendRound(random, servers, { round: 3, count: 1000, fromDays: 0.5, toDays: 0.2 });
          cluster.freeze(n2);
          try {
            times.frozen = await runAll(servers);
          } finally {
            cluster.thaw(n2);
          }
          await cluster.waitSynced(n2);
          // b's local server (node 2) could not name its cluster: the central kept the one it had.
          const rows = await cluster.sql(
            n1,
            "SELECT cluster FROM fleet.servers WHERE server_id = 'b'",
          );
          assertEquals(rows, [{ cluster: cluster.clusterName }]);
          await appendRound(random, servers, { round: 4, count: 200, fromDays: 0.2, toDays: 0.1 });
          await runAll(servers);
          await assertEveryNode(cluster, servers);
        },
      );

      await t.step(
        "node 1 outside the Primary Component: a's push goes to the next host",
        async () => {
          const status = async () =>
            (await cluster.sql(n1, "SHOW STATUS LIKE 'wsrep_ready'"))[0].Value;
          await cluster.sql(n1, "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'");
          try {
            const deadline = Date.now() + 30_000;
            while (await status() !== "OFF" && Date.now() < deadline) {
              await new Promise((resolve) => setTimeout(resolve, 100));
            }
            assertEquals(await status(), "OFF");
            await appendRound(random, [a], { round: 6, count: 300, fromDays: 0.1, toDays: 0.05 });
            await runAll([a]);
            assertEquals(
              await centralActivity(cluster, n2, "fleet"),
              expectedActivity(servers),
              "the push went through node 2",
            );
          } finally {
            await cluster.sql(n1, "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'");
          }
          await cluster.waitSynced(n1);
          await assertEveryNode(cluster, servers);
        },
      );

      await t.step("the cluster stopped entirely: runs succeed, warn, and catch up", async () => {
        await cluster.stopAll();
        await appendRound(random, servers, { round: 5, count: 300, fromDays: 0.1, toDays: 0.05 });
        times.down = await runAll(servers);
        const strict = await runCli(["--config", c.config, "--strict-push"]);
        assertEquals(strict.code, 7, strict.stderr);
        const lines = strict.stderr.trim().split("\n");
        assertEquals(lines.length, 1, strict.stderr);
        assert(/level=WARN msg="push failed"/.test(lines[0]), lines[0]);
        await cluster.startAll();
        times.back = await runAll(servers);
        await assertEveryNode(cluster, servers);
      });

      await t.step(
        "a database restored from an older copy, one recreated: both converge",
        async () => {
          await restoreDatabase(copy, a.sqlite);
          const incarnation = async () =>
            (await cluster.sql(n1, "SELECT incarnation FROM fleet.servers WHERE server_id = 'c'"))[
              0
            ]
              .incarnation;
          const old = await incarnation();
          await Deno.remove(c.sqlite);
          await runAll(servers);
          await assertEveryNode(cluster, servers);
          notStrictEqual(await incarnation(), old);
        },
      );

      await t.step("report --central equals the ledgers, on the node the reader asks", async () => {
        const config = join(root, "reader.ini");
        await writeServerConfig({ ...a, config }, centralKeys(reader, [n3, n1, n2], "reader"));
        const now = Date.now();
        const { accounts, unmatched } = await fleetJson(config, { unusedFor: "30d", now });
        const defined = (await cluster.sql(
          n1,
          "SELECT User AS user, Host AS host FROM mysql.user WHERE is_role <> 'Y'",
        )) as { user: string; host: string }[];
        const [self] = await cluster.sql(n1, "SELECT CURRENT_USER() AS cu");
        const expected = expectedReport({
          cluster: cluster.clusterName!,
          clustered: [a, b],
          defined,
          alone: c,
          since: now - 30 * DAY,
          self: { user: String(self.cu).split("@")[0], host: String(self.cu).split("@")[1] },
        });
        // Rows that are used in the period are not listed.
        assertEquals(comparable(accounts), expected.filter((r) => r.status !== "used"));
        for (const r of accounts) {
          if (r.status === "unknown" && r.cluster === "") {
            assert(/^c: watched only since/.test(String(r.reason)), String(r.reason));
          }
        }
        // ghost is logged on a and b but defined nowhere.
        assertEquals(
          [...new Set(unmatched.map((u) => u.name))],
          ["ghost"],
        );
        const everything = comparable((await fleetJson(config)).accounts);
        assertEquals(everything.length, expected.length);
        // 40 days after the last push, nothing it said can make an account unused.
        const later = await fleetJson(config, { unusedFor: "30d", now: now + 40 * DAY });
        const statuses = new Set(later.accounts.map((r) => r.status));
        assertEquals([...statuses], ["unknown"]);
      });
      console.error(`  run times (ms): ${JSON.stringify(times)}`);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
);
