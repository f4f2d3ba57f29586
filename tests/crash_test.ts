/**
 * Crash test: conntracker is killed (SIGKILL) at random moments while its
 * log grows and rotates; after one clean run the database equals the oracle
 * (the lines the test wrote, counted by the reference parser).
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { prng, ROOT, sqlite3, withTempDir, writeConfig } from "./helpers.ts";
import { referenceCount } from "./reference.ts";

const KILLS = 60;

Deno.test({
  name: "crash: 60 SIGKILLs during runs on a growing, rotating log lose and double nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withTempDir(async (dir) => {
      await Deno.mkdir(join(dir, "logs"));
      const log = join(dir, "logs", "server_audit.log");
      const config = await writeConfig(dir, { AuditLogPath: join(dir, "logs") });
      const db = join(dir, "audit.sqlite");
      const random = prng(1234);
      let written = "";
      let conn = 0;
      const append = async (n: number) => {
        let text = "";
        for (let i = 0; i < n; i++) {
          conn++;
          const user = `u${conn % 37}`;
          // Wall time, one second per connection (November: +01:00 in Zurich).
          const ts = new Date(Date.UTC(2026, 10, 24) + conn * 1000).toISOString()
            .replace(/^(\d{4})-(\d\d)-(\d\d)T(\d\d:\d\d:\d\d).*/, "$1$2$3 $4");
          const ok = conn % 5 !== 0;
          text += `${ts},vm,${user},10.1.0.${conn % 3},${conn},0,${
            ok ? "CONNECT,,,0" : "FAILED_CONNECT,,,1045"
          }\n`;
          text += `${ts},vm,${user},10.1.0.${conn % 3},${conn},7,QUERY,,'SELECT \\'${
            "q,".repeat(40)
          }\\'',0\n`;
        }
        await Deno.writeTextFile(log, text, { append: true });
        written += text;
      };
      let rotations = 0;
      let killed = 0;
      for (let k = 0; killed < KILLS && k < 400; k++) {
        await append(200 + Math.floor(random() * 800));
        if (random() < 0.15) {
          for (let i = rotations; i >= 1; i--) {
            await Deno.rename(`${log}.${i}`, `${log}.${i + 1}`).catch(() => {});
          }
          await Deno.rename(log, `${log}.1`);
          rotations++;
        }
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-all", "--quiet", join(ROOT, "main.ts"), "--config", config],
          stdout: "null",
          stderr: "null",
        }).spawn();
        await new Promise((r) => setTimeout(r, 10 + random() * 90));
        try {
          child.kill("SIGKILL");
        } catch {
          // It finished first.
        }
        if ((await child.status).signal === "SIGKILL") killed++;
        assertEquals(await sqlite3(db, "PRAGMA integrity_check;").catch(() => [["ok"]]), [["ok"]]);
      }
      assert(killed >= KILLS, `only ${killed} runs were killed`);
      const clean = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "--quiet", join(ROOT, "main.ts"), "--config", config],
      }).output();
      assertEquals(clean.code, 0, new TextDecoder().decode(clean.stderr));
      const rows = await sqlite3(
        db,
        "SELECT name || '@' || host, logins, failed_attempts, last_login_ms FROM activity ORDER BY 1;",
      );
      const byKey = (a: string[], b: string[]) => a[0] < b[0] ? -1 : 1;
      const expected = [...referenceCount(written)]
        .map(([k, a]) => [
          k,
          String(a.logins),
          String(a.failed),
          String(Date.parse(a.lastLogin!.replace(/^(\d{4})(\d\d)(\d\d) /, "$1-$2-$3T") + "+01:00")),
        ]);
      assertEquals(rows.sort(byKey), expected.sort(byKey));
    });
  },
});
