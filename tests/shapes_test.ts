/**
 * The CLI over the real shapes of issues 12 and 14, kept by
 * `deno task capture shapes` and `deno task capture resolve`: names and a
 * default database with commas, a first line longer than 8 KiB, health checks,
 * a dropped account; a server that resolves client names. The oracle is each
 * capture's manifest: what every attempt did and `CURRENT_USER()`.
 */

import { deepStrictEqual as assertEquals } from "node:assert";
import { join } from "node:path";
import { assertAttribution, compareActivity, readManifest, reportAccounts } from "./attempts.ts";
import { copyAuditFiles, FIXTURES, runCli, withTempDir, writeConfig } from "./helpers.ts";
import type { Attempt } from "./mariadb.ts";

/** Runs the CLI once over `files` of a capture; returns the config for more runs. */
async function scan(dir: string, fixture: string, files: string[]): Promise<string> {
  await Deno.mkdir(join(dir, "logs"));
  await copyAuditFiles(fixture, files, join(dir, "logs"));
  const config = await writeConfig(dir, { AuditLogPath: join(dir, "logs") });
  const run = await runCli(["--config", config]);
  assertEquals([run.code, run.stderr], [0, ""]);
  return config;
}

/** `report --accounts` (the capture's `mysql_user.tsv`) against `CURRENT_USER()`. */
async function assertReport(dir: string, fixture: string, attempts: Attempt[]): Promise<void> {
  const config = await scan(dir, fixture, readManifest(fixture).files_oldest_first);
  const users = join(FIXTURES, fixture, "mysql_user.tsv");
  // Accounts dropped before the listing are not rows; their logins must not go to another row.
  const defined = new Set(
    Deno.readTextFileSync(users).split("\n").map((l) => l.replace("\t", "@")),
  );
  const kept = attempts.filter((a) => a.currentUser === undefined || defined.has(a.currentUser));
  assertAttribution((await reportAccounts(config, users)).accounts, kept);
}

for (const fixture of ["mariadb-10.11-shapes", "mariadb-10.11-resolve"]) {
  const { files_oldest_first: files, attempts } = readManifest(fixture);

  Deno.test(`shapes: ${fixture}: every attempt counted for the user@host the log wrote`, async () => {
    await withTempDir(async (dir) => {
      await scan(dir, fixture, files);
      await compareActivity(join(dir, "audit.sqlite"), attempts);
    });
  });

  Deno.test(`shapes: ${fixture}: report --accounts gives each login to CURRENT_USER()`, async () => {
    await withTempDir((dir) => assertReport(dir, fixture, attempts));
  });
}

const SHAPES = readManifest("mariadb-10.11-shapes");
const LONG = SHAPES.files_oldest_first.find((f) => SHAPES.first_line_bytes![f] > 8192)!;

Deno.test(`shapes: a file whose first line has ${SHAPES.first_line_bytes![LONG]} bytes is read`, async () => {
  await withTempDir(async (dir) => {
    await scan(dir, "mariadb-10.11-shapes", [LONG]);
    await compareActivity(
      join(dir, "audit.sqlite"),
      SHAPES.attempts.filter((a) => a.file === LONG),
    );
  });
});
