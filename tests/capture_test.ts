/**
 * Fast tests on the logs `deno task capture` kept from a real server: the
 * oracle is the capture's own record of what it did (manifest.json).
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { assertAttribution, compareActivity, type JsonReport } from "./attempts.ts";
import { copyAuditFiles, FIXTURES, runCli, withTempDir, writeConfig } from "./helpers.ts";
import type { Attempt } from "./mariadb.ts";

/** The kept capture. */
const CAPTURE = "mariadb-10.11-e2e";

/** Its manifest: the files, oldest first, and every attempt the scenario made. */
const MANIFEST: { files_oldest_first: string[]; attempts: Attempt[] } = JSON.parse(
  Deno.readTextFileSync(join(FIXTURES, CAPTURE, "manifest.json")),
);

Deno.test("capture: the kept end-to-end logs give exactly what the scenario did", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "logs"));
    await copyAuditFiles(CAPTURE, MANIFEST.files_oldest_first, join(dir, "logs"));
    const config = await writeConfig(dir, { AuditLogPath: join(dir, "logs") });
    const run = await runCli(["--config", config]);
    assertEquals([run.code, run.stdout, run.stderr], [0, "", ""]);
    await compareActivity(join(dir, "audit.sqlite"), MANIFEST.attempts);
  });
});

Deno.test("capture: read in two halves across a rotation, nothing lost or counted twice", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    const files = MANIFEST.files_oldest_first;
    const half = Math.floor(files.length / 2);
    const config = await writeConfig(dir, { AuditLogPath: logs });
    await copyAuditFiles(CAPTURE, files.slice(0, half), logs);
    assertEquals((await runCli(["--config", config])).code, 0);
    await copyAuditFiles(CAPTURE, files.slice(half), logs);
    assertEquals((await runCli(["--config", config])).code, 0);
    await compareActivity(join(dir, "audit.sqlite"), MANIFEST.attempts);
  });
});

Deno.test("capture: report --accounts attributes each login to the account the server chose", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "logs"));
    await copyAuditFiles(CAPTURE, MANIFEST.files_oldest_first, join(dir, "logs"));
    const config = await writeConfig(dir, { AuditLogPath: join(dir, "logs") });
    assertEquals((await runCli(["--config", config])).code, 0);
    const users = join(FIXTURES, CAPTURE, "mysql_user.tsv");
    const report = await runCli([
      "--config",
      config,
      "report",
      "--format",
      "json",
      "--accounts",
      users,
    ]);
    assertEquals([report.code, report.stderr], [0, ""]);
    const rows = (JSON.parse(report.stdout) as JsonReport).accounts;
    // One row per defined account; the role (empty host) is left out.
    const defined = Deno.readTextFileSync(users).split("\n").filter((l) => l && !l.endsWith("\t"));
    assertEquals(rows.length, defined.length);
    // The server ran with --skip-name-resolve, which a list of accounts cannot tell: logins
    // from localhost may be loopback TCP, yet here every account the server chose is certain.
    const chosen = new Set(MANIFEST.attempts.map((a) => a.currentUser).filter((c) => c));
    chosen.delete("root@localhost");
    assertEquals(assertAttribution(rows, MANIFEST.attempts), chosen.size);
    assert(rows.some((r) => r.name === "unused" && r.status === "never-seen"));
  });
});
