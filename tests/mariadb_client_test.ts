/**
 * The one runner of the `mariadb` client: its errors, and its escape rule
 * against what a real server prints for values holding tabs, newlines, NULs
 * and backslashes (the oracle is the values the test sent).
 */

import { deepStrictEqual as assertEquals } from "node:assert";
import { join } from "node:path";
import { runClient, ServerError, unescapeBatch } from "../lib/input/mariadb_client.ts";
import { assertRejects, withTempDir } from "./helpers.ts";
import { HAVE_MARIADB, withMariaDb } from "./mariadb.ts";

const CI = Boolean(Deno.env.get("CI"));
if (!HAVE_MARIADB && !CI) {
  console.error(
    "\n*** SKIPPING runClient() against a real server: mariadbd not found " +
      "(apt-get install mariadb-server mariadb-client) ***\n",
  );
}

Deno.test("runClient() says a client that cannot be run, naming it", async () => {
  const e = await assertRejects(
    () => runClient({ client: "/nonexistent/mariadb", defaultsFile: "", query: "SELECT 1" }),
    /^"\/nonexistent\/mariadb" cannot be run: /,
  );
  assertEquals(e instanceof ServerError, true);
});

Deno.test("runClient() says a client that fails with the first line of its stderr", async () => {
  await withTempDir(async (dir) => {
    const fake = join(dir, "client");
    await Deno.writeTextFile(
      fake,
      "#!/bin/sh\necho 'ERROR 2002 (HY000): no socket' >&2\necho more >&2\nexit 1\n",
    );
    await Deno.chmod(fake, 0o755);
    const e = await assertRejects(
      () => runClient({ client: fake, defaultsFile: "", query: "SELECT 1" }),
      /^"[^"]+\/client" failed: ERROR 2002 \(HY000\): no socket$/,
    );
    assertEquals(e instanceof ServerError, true);
  });
});

Deno.test({
  name: "runClient() and unescapeBatch() give back what a real server holds, escapes and all",
  ignore: !HAVE_MARIADB && !CI,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withTempDir(async (dir) => {
      await withMariaDb({ events: "CONNECT" }, async (server) => {
        const cnf = join(dir, "client.cnf");
        await Deno.writeTextFile(cnf, `[client]\nsocket = ${server.socket}\nuser = root\n`);
        const values = ["tab\there", "two\nlines", "nul\0byte", "back\\slash\\t", "naïve ☃"];
        const literal = (v: string) =>
          "'" + v.replace(/\\/g, "\\\\").replace(/\0/g, "\\0").replace(/'/g, "''") + "'";
        const text = await runClient({
          client: "mariadb",
          defaultsFile: cnf,
          query: `SELECT ${values.map(literal).join(", ")}; SELECT 'second', 'set'`,
        });
        const rows = text.split("\n").filter((l) => l !== "").map((l) =>
          l.split("\t").map(unescapeBatch)
        );
        assertEquals(rows, [values, ["second", "set"]]);
      });
    });
  },
});
