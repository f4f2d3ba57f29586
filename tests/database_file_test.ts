/**
 * The database file's mode: it lists every account, so a new one is `0600`,
 * or `0640` with its directory's group when that directory is shared with its
 * group (set-group-ID, or readable by its group and not by others); the umask
 * narrows it further; an existing file keeps its mode; SQLite gives the
 * `-wal` and `-shm` the file's mode. Modes are looked at with `Deno.stat`,
 * also while a real run is stopped inside its transaction (when its `-wal`
 * and `-shm` exist).
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { newDatabaseMode } from "../lib/store/database.ts";
import { runCli, withTempDir, writeConfig } from "./helpers.ts";
import { whileRunStopped, writeBigLog } from "./stopped_run.ts";

const IS_ROOT = Deno.uid() === 0;
/** A group other than root's, for directories shared with a group. */
const GROUP = 65534;
const UMASK_077 = ["sh", "-c", 'umask 077 && exec "$@"', "sh"];

function modeOf(path: string): number {
  return Deno.statSync(path).mode! & 0o7777;
}

/** A directory for the database with `mode` (and `gid`), a log and a config. */
async function setup(dir: string, mode: number, gid?: number) {
  const logs = join(dir, "logs");
  const dbDir = join(dir, "db");
  await Deno.mkdir(logs);
  await Deno.mkdir(dbDir);
  if (gid !== undefined) await Deno.chown(dbDir, null, gid);
  await Deno.chmod(dbDir, mode);
  await Deno.writeTextFile(
    join(logs, "server_audit.log"),
    "20261125 10:00:00,vm,app,10.0.0.1,3,0,CONNECT,,,0\n",
  );
  const db = join(dbDir, "audit.sqlite");
  const config = await writeConfig(dir, { AuditLogPath: logs, SqlitePath: db });
  return { logs, db, config };
}

Deno.test("newDatabaseMode() is 0640 in a set-group-ID or group-only directory, else 0600", () => {
  const cases: [number, number][] = [
    [0o755, 0o600],
    [0o700, 0o600],
    [0o750, 0o640],
    [0o770, 0o640],
    [0o751, 0o640],
    [0o705, 0o600],
    [0o754, 0o600],
    [0o710, 0o600],
    [0o740, 0o640],
    [0o2755, 0o640],
    [0o2700, 0o640],
  ];
  for (const [dir, file] of cases) {
    assertEquals(newDatabaseMode(dir).toString(8), file.toString(8), dir.toString(8));
  }
});

Deno.test({
  name: "database file: new in a 0755 directory it is 0600, its -wal and -shm during the run too",
  ignore: !IS_ROOT,
  fn: async () => {
    await withTempDir(async (dir) => {
      const { logs, db, config } = await setup(dir, 0o755);
      await writeBigLog(join(logs, "server_audit.log"));
      const run = await whileRunStopped({ config, db }, () => {
        for (const f of [db, `${db}-wal`, `${db}-shm`]) assertEquals(modeOf(f), 0o600, f);
        return Promise.resolve();
      });
      assertEquals([run.code, run.stderr], [0, ""]);
      assertEquals(modeOf(db), 0o600);
    });
  },
});

Deno.test({
  name:
    "database file: in a group-only (0750) or set-group-ID directory it is 0640 with the directory's group",
  ignore: !IS_ROOT,
  fn: async () => {
    for (const mode of [0o750, 0o2755]) {
      await withTempDir(async (dir) => {
        const { logs, db, config } = await setup(dir, mode, GROUP);
        await writeBigLog(join(logs, "server_audit.log"));
        const run = await whileRunStopped({ config, db }, () => {
          for (const f of [db, `${db}-wal`, `${db}-shm`]) {
            assertEquals(modeOf(f).toString(8), "640", `${f} in ${mode.toString(8)}`);
          }
          return Promise.resolve();
        });
        assertEquals([run.code, run.stderr], [0, ""]);
        assertEquals(modeOf(db), 0o640);
        assertEquals(Deno.statSync(db).gid, GROUP);
      });
    }
  },
});

Deno.test({
  name: "database file: a restrictive umask (077) narrows it: 0600 even in a group-only directory",
  ignore: !IS_ROOT,
  fn: async () => {
    for (const mode of [0o750, 0o755]) {
      await withTempDir(async (dir) => {
        const { logs, db, config } = await setup(dir, mode, GROUP);
        await writeBigLog(join(logs, "server_audit.log"));
        const run = await whileRunStopped({ config, db, wrap: UMASK_077 }, () => {
          for (const f of [db, `${db}-wal`, `${db}-shm`]) assertEquals(modeOf(f), 0o600, f);
          return Promise.resolve();
        });
        assertEquals([run.code, run.stderr], [0, ""]);
        assertEquals(modeOf(db), 0o600);
      });
    }
  },
});

Deno.test({
  name:
    "database file: an existing file keeps its mode (an old tool's 0644 database), as do its -wal and -shm",
  ignore: !IS_ROOT,
  fn: async () => {
    await withTempDir(async (dir) => {
      const { logs, db, config } = await setup(dir, 0o750, GROUP);
      const old = new DatabaseSync(db);
      old.exec(`CREATE TABLE Accounts (name TEXT, host TEXT, last_seen TEXT,
        PRIMARY KEY (name, host));`);
      old.close();
      await Deno.chmod(db, 0o644);
      await writeBigLog(join(logs, "server_audit.log"));
      const run = await whileRunStopped({ config, db }, () => {
        for (const f of [db, `${db}-wal`, `${db}-shm`]) assertEquals(modeOf(f), 0o644, f);
        return Promise.resolve();
      });
      assertEquals([run.code, run.stderr], [0, ""]);
      assertEquals(modeOf(db), 0o644);
      const again = await runCli(["--config", config], {}, UMASK_077);
      assertEquals([again.code, again.stderr], [0, ""]);
      assertEquals(modeOf(db), 0o644);
      assert(Deno.statSync(db).size > 0);
    });
  },
});
