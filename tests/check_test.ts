/**
 * `conntracker check` against a real MariaDB server with the audit plugin and
 * the real logrotate: each logrotate trap is reproduced (the plugin is shown
 * writing the renamed or deleted file, by where the test's own logins land),
 * then check must report it. The system paths check reads (logrotate,
 * systemd, cron) are a temp root.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { dirname, join } from "node:path";
import { type Finding, runCheck } from "../lib/check/mod.ts";
import { loadConfig } from "../lib/config.ts";
import { client, HAVE_MARIADB, type MariaDb, rootSql, withMariaDb } from "./mariadb.ts";
import { HAVE_LOGROTATE } from "./rsyslog.ts";
import { runCli, withTempDir, writeConfig } from "./helpers.ts";

const CI = Boolean(Deno.env.get("CI"));
const CAN = HAVE_MARIADB && HAVE_LOGROTATE;
if (!CAN && !CI) {
  console.error(
    "\n*** SKIPPING the check tests against a real server: mariadbd or logrotate not found " +
      "(apt-get install mariadb-server mariadb-client logrotate) ***\n",
  );
}

function e2e(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !CAN && !CI, sanitizeOps: false, sanitizeResources: false, fn });
}

/** Logs in `n` times as `user` (created first) and returns how many logins succeeded. */
async function logins(server: MariaDb, user: string, n: number): Promise<number> {
  await rootSql(server, `CREATE USER IF NOT EXISTS '${user}'@'localhost' IDENTIFIED BY 'pw'`);
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const r = await client(["-S", server.socket, `-u${user}`, "-ppw", "-e", "SELECT 1"]);
    if (r.ok) ok++;
  }
  return ok;
}

/** The successful CONNECT lines of `user` in every file of the audit folder, by file name. */
async function connectsByFile(server: MariaDb, user: string): Promise<Record<string, number>> {
  const dir = dirname(server.auditLog);
  const counts: Record<string, number> = {};
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    const text = e.name.endsWith(".gz")
      ? new TextDecoder().decode(
        (await new Deno.Command("zcat", { args: [path], stdout: "piped" }).output()).stdout,
      )
      : await Deno.readTextFile(path);
    const n = text.split("\n").filter((l) =>
      l.includes(`,${user},localhost,`) && /,CONNECT,[^,]*,[^,]*,0$/.test(l)
    ).length;
    if (n > 0) {
      counts[e.name] = n;
    }
  }
  return counts;
}

/** Runs the real logrotate once (`-f`) with this block, from the temp root's logrotate.d. */
async function rotate(server: MariaDb, root: string, directives: string[]): Promise<void> {
  const conf = join(root, "etc", "logrotate.d", "mariadb-audit");
  await Deno.mkdir(dirname(conf), { recursive: true });
  await Deno.writeTextFile(
    conf,
    [`${server.auditLog} {`, "  rotate 4", "  missingok", "  nodateext", ...directives, "}", ""]
      .map((l) => l.startsWith("  ") || l === "}" || l === "" || l.startsWith("/") ? l : `  ${l}`)
      .join("\n"),
  );
  const out = await new Deno.Command("/usr/sbin/logrotate", {
    args: ["-f", "-s", join(root, "logrotate.state"), conf],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`logrotate: ${new TextDecoder().decode(out.stderr)}`);
}

/** Empties the audit folder and makes the plugin reopen its file, for the next scenario. */
async function reset(server: MariaDb, root: string): Promise<void> {
  const dir = dirname(server.auditLog);
  for await (const e of Deno.readDir(dir)) await Deno.remove(join(dir, e.name));
  await rootSql(server, REOPEN_SQL);
  await Deno.remove(join(root, "etc"), { recursive: true }).catch(() => {});
  await Deno.remove(join(root, "logrotate.state")).catch(() => {});
}

const REOPEN_SQL = "SET GLOBAL server_audit_logging = OFF; SET GLOBAL server_audit_logging = ON";

async function checkConfig(dir: string, server: MariaDb, keys: Record<string, string> = {}) {
  const cnf = join(dir, "client.cnf");
  await Deno.writeTextFile(cnf, `[client]\nsocket = ${server.socket}\nuser = root\n`);
  return await loadConfig(
    await writeConfig(dir, {
      AuditLogPath: dirname(server.auditLog),
      MariadbDefaultsFile: cnf,
      ...keys,
    }),
  );
}

function having(findings: Finding[], check: string, severity: string, text: string): Finding[] {
  return findings.filter((f) =>
    f.check === check && f.severity === severity && f.message.includes(text)
  );
}

function show(findings: Finding[]): string {
  return findings.map((f) => `${f.severity} ${f.check} ${f.message}`).join("\n");
}

e2e(
  "check: each logrotate trap, reproduced on a real server, is reported; the safe rotations are ok",
  async () => {
    await withTempDir(async (dir) => {
      const root = join(dir, "root");
      await Deno.mkdir(root);
      await withMariaDb({ events: "CONNECT", rotations: 0 }, async (server) => {
        const config = await checkConfig(dir, server);
        const live = "server_audit.log";
        const check = () => runCheck({ config, root, intervalMs: 300_000 });

        // 1. Rename and create, no reopen: the plugin keeps writing the renamed file.
        assertEquals(await logins(server, "before1", 1), 1);
        await rotate(server, root, ["create 0660 mysql mysql"]);
        await new Promise((r) => setTimeout(r, 1100));
        assertEquals(await logins(server, "trap1", 3), 3);
        assertEquals(await connectsByFile(server, "trap1"), { [`${live}.1`]: 3 });
        let findings = await check();
        assert(
          having(findings, "logrotate", "error", "without making the plugin reopen it").length,
          show(findings),
        );
        assert(
          having(findings, "files", "error", "changed after the live file").length,
          show(findings),
        );
        assert(
          having(findings, "files", "error", `has ${server.auditLog}.1 open`).length,
          show(findings),
        );
        // The command line: one line per finding, exit 5; the same findings as JSON.
        const table = await runCli(["--config", config.file, "check", "--interval", "5min"]);
        assertEquals(table.code, 5, table.stderr);
        const rows = table.stdout.trimEnd().split("\n");
        assert(rows.every((l) => /^(ok|warn|error) +[a-z-]+ +\S/.test(l)), table.stdout);
        assert(
          rows.some((l) => /^error +files +.*has .*\.1 open.*Fix: SET GLOBAL/.test(l)),
          table.stdout,
        );
        const json = await runCli(["--config", config.file, "check", "--format", "json"]);
        assertEquals(json.code, 5);
        const parsed = JSON.parse(json.stdout) as Finding[];
        assertEquals(parsed.length, rows.length, json.stdout);
        assert(having(parsed, "files", "error", "changed after the live file").length, json.stdout);

        // 2. Rename, create and compress at once: the plugin writes a deleted file.
        await reset(server, root);
        assertEquals(await logins(server, "before2", 1), 1);
        await rotate(server, root, ["create 0660 mysql mysql", "compress"]);
        assertEquals(await logins(server, "trap2", 3), 3);
        assertEquals(await connectsByFile(server, "trap2"), {}, "the logins went nowhere");
        assertEquals(await connectsByFile(server, "before2"), { [`${live}.1.gz`]: 1 });
        findings = await check();
        assert(
          having(findings, "logrotate", "error", "compresses it at once").length,
          show(findings),
        );
        assert(having(findings, "files", "error", "into a deleted file").length, show(findings));

        // 3. copytruncate: the plugin goes on writing the live file.
        await reset(server, root);
        assertEquals(await logins(server, "before3", 1), 1);
        await rotate(server, root, ["copytruncate", "compress", "delaycompress"]);
        assertEquals(await logins(server, "safe3", 3), 3);
        assertEquals(await connectsByFile(server, "safe3"), { [live]: 3 });
        findings = await check();
        assert(having(findings, "logrotate", "ok", "with copytruncate").length, show(findings));
        assertEquals(findings.filter((f) => f.severity === "error"), [], show(findings));

        // 4. Rename, then a postrotate that sets server_audit_logging OFF and ON: reopened.
        await reset(server, root);
        assertEquals(await logins(server, "before4", 1), 1);
        await rotate(server, root, [
          "nocreate",
          "postrotate",
          `  mariadb --no-defaults -S ${server.socket} -uroot -e '${REOPEN_SQL}'`,
          "endscript",
        ]);
        assertEquals(await logins(server, "safe4", 3), 3);
        assertEquals(await connectsByFile(server, "safe4"), { [live]: 3 });
        findings = await check();
        assert(
          having(findings, "logrotate", "ok", "postrotate sets server_audit_logging").length,
          show(findings),
        );
        assertEquals(findings.filter((f) => f.severity === "error"), [], show(findings));
      });
    });
  },
);
