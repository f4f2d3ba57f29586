/**
 * `deno task demo`: a real tracking run over the real audit logs shipped in
 * tests/fixtures, into a temporary database, then the accounts it found.
 *
 * @module
 */

import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { main } from "../main.ts";
import { copyAuditFiles, FILES_FULL, writeConfig } from "./helpers.ts";

const dir = await Deno.makeTempDir({ prefix: "conntracker-demo-" });
await copyAuditFiles("mariadb-10.11-full", FILES_FULL, dir);
const config = await writeConfig(dir, { AuditLogPath: dir, LogLevel: "INFO" });
console.log(`audit logs: ${dir} (a real MariaDB 10.11 capture)\nconfig:     ${config}\n`);
const code = await main(["--config", config]);
const db = new DatabaseSync(join(dir, "audit.sqlite"), { readOnly: true });
console.log("\nSELECT name, host, last_seen FROM Accounts;");
for (
  const r of db.prepare("SELECT name, host, last_seen FROM Accounts ORDER BY name, host").all()
) {
  console.log(`  ${r.name}@${r.host}  ${r.last_seen}`);
}
console.log("\nSELECT name, host, logins, failed_attempts FROM activity;");
for (
  const r of db.prepare(
    "SELECT name, host, logins, failed_attempts FROM activity ORDER BY name, host",
  ).all()
) {
  console.log(`  ${r.name}@${r.host}  logins=${r.logins} failed=${r.failed_attempts}`);
}
db.close();
await Deno.remove(dir, { recursive: true });
Deno.exit(code);
