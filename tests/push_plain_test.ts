/**
 * Pushing to one plain MariaDB server, the common small site: the same
 * guarantees as with a cluster (the central tables equal the ledger of the
 * servers' logs, nothing is sent when nothing changed, a stopped server only
 * delays the copy, a restored database converges) and the fleet report read
 * by a least-privilege reader.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { pushChanges } from "../lib/push/push.ts";
import { loadConfig } from "../lib/config.ts";
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
  writeServerConfig,
} from "./fleet.ts";
import { startCentral } from "./galera.ts";
import { prng } from "./helpers.ts";
import { HAVE_MARIADB } from "./mariadb.ts";

const CI = Boolean(Deno.env.get("CI"));
const DAY = 86_400_000;

Deno.test({
  name: "push: two servers into one plain MariaDB server, stopped and restored meanwhile",
  ignore: !HAVE_MARIADB && !CI,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const root = await Deno.makeTempDir({ prefix: "conntracker-push-plain-" });
    try {
      await using central = await startCentral({ config: ["userstat=1"] });
      const [node] = central.nodes;
      const pusher = await central.createDatabaseUser({ database: "fleet", user: "pusher" });
      const reader = await central.createDatabaseUser({
        database: "fleet",
        user: "reader",
        privileges: "SELECT",
      });
      const keys = { MariadbClient: "/bin/false" };
      const a = await createServer(root, {
        id: "a",
        serverHost: "db-a",
        central: { ...centralKeys(pusher, [node], "a"), PushAccounts: "false" },
        keys,
      });
      const b = await createServer(root, {
        id: "b",
        serverHost: "db-b",
        // A socket path, and a first host that refuses connections.
        central: {
          ...centralKeys(pusher, [node], "b"),
          Hosts: `127.0.0.1:1, ${node.socket}`,
          PushAccounts: "false",
        },
        keys,
      });
      const servers = [a, b];
      const random = prng(7);
      const round = async (count: number, fromDays: number, toDays: number) => {
        const now = Date.now();
        for (const s of servers) {
          await append(
            s,
            generate(random, {
              users: ["app", "batch", "ops"],
              hosts: Array.from({ length: 40 }, (_, k) => `192.168.${fromDays}.${k}`),
              count,
              fromMs: now - fromDays * DAY,
              toMs: now - toDays * DAY,
            }),
          );
        }
        for (const s of servers) assertEquals(await main(["--config", s.config]), 0, s.id);
      };
      const tableChanges = async () =>
        Number(
          (await central.sql(
            node,
            `SELECT COALESCE(SUM(ROWS_CHANGED), 0) AS n FROM information_schema.TABLE_STATISTICS
             WHERE TABLE_SCHEMA = 'fleet' AND TABLE_NAME <> 'servers'`,
          ))[0].n,
        );

      await t.step("pushes equal the ledger; with nothing new nothing is sent", async () => {
        await round(400, 40, 31);
        assertEquals(await centralActivity(central, node, "fleet"), expectedActivity(servers));
        const before = await tableChanges();
        const summary = await pushChanges({ config: await loadConfig(a.config) });
        assertEquals([summary.ok, summary.full, summary.rowsSent], [true, false, 0]);
        for (const s of servers) assertEquals(await main(["--config", s.config]), 0);
        assertEquals(await tableChanges(), before);
      });

      const copy = join(root, "b-copy.sqlite");
      await copyDatabase(b.sqlite, copy);

      await t.step("stopped: runs succeed quickly; started: pending changes arrive", async () => {
        await central.stopAll();
        const start = Date.now();
        await round(100, 10, 5);
        assert(Date.now() - start < 10_000, "runs against a stopped central are fast");
        await central.startAll();
        await round(50, 4, 1);
        assertEquals(await centralActivity(central, node, "fleet"), expectedActivity(servers));
      });

      await t.step("a database restored from an older copy resends all and converges", async () => {
        await restoreDatabase(copy, b.sqlite);
        const summary = await pushChanges({ config: await loadConfig(b.config) });
        // The copy's counts are behind the central's: these stay (GREATEST), and its
        // acknowledgement does not match, so everything it has is sent again.
        assertEquals([summary.ok, summary.full], [true, true]);
        assertEquals(await centralActivity(central, node, "fleet"), expectedActivity(servers));
        assertEquals(await main(["--config", b.config]), 0);
        assertEquals(await centralActivity(central, node, "fleet"), expectedActivity(servers));
      });

      await t.step("report --central as a reader: one group, rows per logged account", async () => {
        const config = join(root, "reader.ini");
        await writeServerConfig({ ...a, config }, centralKeys(reader, [node], "reader"));
        const { accounts } = await fleetJson(config);
        const expected = new Map<string, [number, number]>();
        for (const s of servers) {
          for (const t of s.ledger.values()) {
            const [logins, failed] = expected.get(`${t.user}@${t.host}`) ?? [0, 0];
            expected.set(`${t.user}@${t.host}`, [logins + t.logins, failed + t.failed]);
          }
        }
        assertEquals(accounts.length, expected.size);
        for (const r of accounts) {
          assertEquals([r.cluster, r.logins, r.failed_attempts], [
            "",
            ...expected.get(`${r.name}@${r.host}`)!,
          ], JSON.stringify(r));
        }
        const denied = await central.sql(node, "SHOW GRANTS FOR 'reader'@'127.0.0.1'");
        assert(JSON.stringify(denied).includes("GRANT SELECT ON `fleet`.*"));
      });
      await t.step("audit data lost on a server makes what it could hold unknown", async () => {
        const l = await createServer(root, {
          id: "l",
          serverHost: "db-l",
          central: { ...centralKeys(pusher, [node], "l"), PushAccounts: "false" },
          keys,
        });
        const now = Date.now();
        await append(l, [{ user: "old-l", host: "h", ok: true, at: now - 50 * DAY }]);
        // A run sees the start of a later line (a login of old-l 5 days ago, still being
        // written); the file is removed before a run reads the rest: lost.
        const iso = new Date(now - 5 * DAY).toISOString();
        const stamp = `${iso.slice(0, 10).replaceAll("-", "")} ${iso.slice(11, 19)}`;
        await Deno.writeTextFile(l.log, `${stamp},db-l,old-l,h,99,0,CONN`, {
          append: true,
        });
        assertEquals(await main(["--config", l.config]), 0);
        await Deno.remove(l.log);
        await append(l, [{ user: "new-l", host: "h", ok: true, at: now - DAY }]);
        assertEquals(await main(["--config", l.config]), 3, "the run reports the loss");
        const config = join(root, "reader.ini");
        const { accounts } = await fleetJson(config, { unusedFor: "30d" });
        const rows = accounts.filter((r) => String(r.name).endsWith("-l"));
        assertEquals(rows.map((r) => [r.name, r.status]), [["old-l", "unknown"]]);
        assert(/^l: audit data lost/.test(String(rows[0].reason)), String(rows[0].reason));
      });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
