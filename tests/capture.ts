/**
 * `deno task capture [DIR]`: plays the end-to-end scenario against a
 * throwaway MariaDB server and keeps what it produced as a fixture (default
 * `tests/fixtures/mariadb-10.11-e2e`): the audit files, `mysql_user.tsv` (the
 * output of `mariadb -N -B -e "SELECT User, Host FROM mysql.user"`), and
 * `manifest.json` with every attempt, its time window and the account the
 * server chose. The fast tests replay these real lines without a server.
 *
 * @module
 */

import { join } from "node:path";
import { FIXTURES } from "./helpers.ts";
import { rootSql, SERVER_TZ, withMariaDb } from "./mariadb.ts";
import { playScenario } from "./scenario.ts";

const out = Deno.args[0] ?? join(FIXTURES, "mariadb-10.11-e2e");
const audit = { events: "CONNECT,QUERY,TABLE", rotateSize: 8192, rotations: 20 };

await withMariaDb(audit, async (server) => {
  const attempts = await playScenario(server);
  const users = await rootSql(server, "SELECT User, Host FROM mysql.user");
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await Deno.mkdir(out, { recursive: true });
  const auditDir = join(server.auditLog, "..");
  const files = [];
  for (const entry of Deno.readDirSync(auditDir)) {
    const stat = await Deno.stat(join(auditDir, entry.name));
    files.push({ name: entry.name, mtime: stat.mtime!.getTime() });
    await Deno.copyFile(join(auditDir, entry.name), join(out, entry.name));
  }
  // Oldest first: by modification time, then the higher rotation number first.
  files.sort((a, b) => a.mtime - b.mtime || b.name.localeCompare(a.name));
  await Deno.writeTextFile(
    join(out, "mysql_user.tsv"),
    users.map((row) => row.join("\t") + "\n").join(""),
  );
  const manifest = {
    server: server.version,
    time_zone: `${SERVER_TZ} (TZ of the server process)`,
    audit_options: `server_audit_events=${audit.events}; file_rotate_size=${audit.rotateSize}; ` +
      `file_rotations=${audit.rotations}; --skip-name-resolve`,
    made_by: "deno task capture (tests/capture.ts, scenario in tests/scenario.ts)",
    files_oldest_first: files.map((f) => f.name),
    attempts: attempts.map((a) => ({
      ...a,
      before_iso: new Date(a.before).toISOString(),
      after_iso: new Date(a.after).toISOString(),
    })),
  };
  await Deno.writeTextFile(join(out, "manifest.json"), JSON.stringify(manifest, null, 1) + "\n");
  console.log(`captured ${files.length} files and ${attempts.length} attempts in ${out}`);
});
