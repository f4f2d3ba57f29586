/**
 * Each SQLite message that `guard()` sorts into a {@link StoreError} (and so
 * into an exit code), made for real by the bundled SQLite: `node:sqlite`
 * gives no result codes in Deno, so the messages are all there is, and a
 * Deno upgrade that rewords one must fail here instead of quietly turning
 * exit 4 into exit 1. The oracle is SQLite's own list of result strings
 * (`sqlite3ErrStr`): the raw message is checked too.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { guard, LockedError, openStoreReadOnly, StoreError } from "../lib/store/database.ts";
import { compileLayout } from "../lib/time/layout.ts";
import { loadZone } from "../lib/time/zone.ts";
import { AS_UNPRIVILEGED, runCli, withTempDir, writeConfig } from "./helpers.ts";

const IS_ROOT = Deno.uid() === 0;
const TIMES = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };

/** What `guard()` made of what `fn` threw: the error, and SQLite's own message. */
function caught(path: string, fn: () => unknown): { error: StoreError; sqlite: string } {
  try {
    guard(path, fn);
  } catch (e) {
    assert(e instanceof StoreError, `not a StoreError: ${e}`);
    return { error: e, sqlite: (e.cause as Error)?.message };
  }
  throw new Error("nothing was thrown");
}

/** A WAL database at `dir/audit.sqlite` with one table of `rows` rows. */
function makeDatabase(dir: string, rows = 1): string {
  const path = join(dir, "audit.sqlite");
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (x TEXT)");
  const insert = db.prepare("INSERT INTO t VALUES (?)");
  db.exec("BEGIN");
  for (let i = 0; i < rows; i++) insert.run(`row ${i} `.repeat(20));
  db.exec("COMMIT");
  db.close();
  return path;
}

Deno.test("guard(): another connection's write lock is a LockedError (exit 4)", async () => {
  await withTempDir((dir) => {
    const path = makeDatabase(dir);
    const holder = new DatabaseSync(path);
    const other = new DatabaseSync(path);
    try {
      holder.exec("BEGIN IMMEDIATE");
      other.exec("PRAGMA busy_timeout = 0");
      const { error, sqlite } = caught(path, () => other.exec("BEGIN IMMEDIATE"));
      assertEquals(sqlite, "database is locked");
      assert(error instanceof LockedError);
      assertEquals(error.message, "Database is locked by another run");
      assertEquals(error.path, path);
    } finally {
      holder.close();
      other.close();
    }
  });
});

Deno.test("guard(): a file that is not SQLite is said so", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "audit.sqlite");
    await Deno.writeTextFile(path, "not a database, ".repeat(400));
    const { error, sqlite } = caught(path, () => new DatabaseSync(path).exec("SELECT 1"));
    assertEquals(sqlite, "file is not a database");
    assert(!(error instanceof LockedError));
    assertEquals(error.message, "Database file is not a valid SQLite database");
  });
});

Deno.test("guard(): a damaged SQLite file is said to be not a valid database", async () => {
  await withTempDir(async (dir) => {
    const path = makeDatabase(dir, 2000);
    const db = new DatabaseSync(path);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
    // Overwrite every page after the first (the schema) with garbage.
    const bytes = await Deno.readFile(path);
    const pageSize = new DataView(bytes.buffer).getUint16(16);
    for (let i = pageSize; i < bytes.length; i++) bytes[i] = (i * 131) & 0xff;
    await Deno.writeFile(path, bytes);
    const damaged = new DatabaseSync(path);
    try {
      const { error, sqlite } = caught(
        path,
        () => damaged.prepare("SELECT count(*), max(x) FROM t").get(),
      );
      assertEquals(sqlite, "database disk image is malformed");
      assertEquals(error.message, "Database file is not a valid SQLite database");
    } finally {
      damaged.close();
    }
  });
});

Deno.test("guard(): a write through a read-only handle is said to be read-only", async () => {
  await withTempDir((dir) => {
    const path = makeDatabase(dir);
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const { error, sqlite } = caught(path, () => db.exec("INSERT INTO t VALUES ('x')"));
      assertEquals(sqlite, "attempt to write a readonly database");
      // This user made the file and its directory: no permission is the cause.
      assertEquals(error.message, "Database is read-only");
    } finally {
      db.close();
    }
  });
});

Deno.test("guard(): a database that cannot grow is said to be on a full disk", async () => {
  await withTempDir((dir) => {
    const path = makeDatabase(dir);
    const db = new DatabaseSync(path);
    try {
      // SQLite's SQLITE_FULL, as from a full disk: no page may be added.
      const pages = (db.prepare("PRAGMA page_count").get() as { page_count: number }).page_count;
      db.exec(`PRAGMA max_page_count = ${pages}`);
      const { error, sqlite } = caught(path, () => {
        db.exec("BEGIN");
        for (let i = 0; i < 1000; i++) db.exec(`INSERT INTO t VALUES ('${"y".repeat(1000)}')`);
        db.exec("COMMIT");
      });
      assertEquals(sqlite, "database or disk is full");
      assertEquals(error.message, "Database disk is full");
    } finally {
      if (db.isTransaction) db.exec("ROLLBACK");
      db.close();
    }
  });
});

Deno.test("guard(): a database file that cannot be opened is said so", async () => {
  await withTempDir((dir) => {
    const path = join(dir, "no", "such", "audit.sqlite");
    const { error, sqlite } = caught(path, () => new DatabaseSync(path));
    assertEquals(sqlite.replace(/: \/.*/, ""), "unable to open database file"); // (node adds the path)
    assertEquals(error.message, "Database cannot be opened");
  });
});

Deno.test("guard(): an error SQLite has no rule for keeps its own message", () => {
  const db = new DatabaseSync(":memory:");
  try {
    const { error, sqlite } = caught(":memory:", () => db.exec("SELECT * FROM nowhere"));
    assertEquals(sqlite, "no such table: nowhere");
    assertEquals(error.message, "Database error: no such table: nowhere");
  } finally {
    db.close();
  }
});

Deno.test({
  name: "openStoreReadOnly(): a database this user may not read says permission denied, and who",
  ignore: !IS_ROOT,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = makeDatabase(dir);
      await Deno.chmod(path, 0o000);
      // As root without the capabilities that ignore file modes (the report as another user).
      const logs = join(dir, "logs");
      await Deno.mkdir(logs);
      const config = await writeConfig(dir, { AuditLogPath: logs, SqlitePath: path });
      const r = await runCli(["--config", config, "report"], {}, AS_UNPRIVILEGED);
      assertEquals(r.code, 1, r.stderr);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert(
        r.stderr.includes(
          'msg="Database cannot be opened: permission denied reading it, as root (uid 0)" ' +
            `file=${path}`,
        ),
        r.stderr,
      );
      // And as root itself, with every capability: it opens.
      openStoreReadOnly(path, TIMES).db.close();
    });
  },
});

Deno.test({
  name: "openStore(): a database in a directory this user may not write says where, and who",
  ignore: !IS_ROOT,
  fn: async () => {
    await withTempDir(async (dir) => {
      const dbDir = join(dir, "db");
      await Deno.mkdir(dbDir);
      const path = makeDatabase(dbDir);
      await Deno.chmod(dbDir, 0o555);
      try {
        const logs = join(dir, "logs");
        await Deno.mkdir(logs);
        const config = await writeConfig(dir, { AuditLogPath: logs, SqlitePath: path });
        const r = await runCli(["--config", config], {}, AS_UNPRIVILEGED);
        assertEquals(r.code, 1, r.stderr);
        assert(
          r.stderr.includes(
            `permission denied writing in \\"${dbDir}\\" (SQLite's -wal and -shm files go there), ` +
              "as root (uid 0)",
          ),
          r.stderr,
        );
      } finally {
        await Deno.chmod(dbDir, 0o755);
      }
    });
  },
});

Deno.test({
  name: "openStore(): a -shm file this user may not write is named, and who",
  ignore: !IS_ROOT,
  fn: async () => {
    await withTempDir(async (dir) => {
      const logs = join(dir, "logs");
      await Deno.mkdir(logs);
      await Deno.writeTextFile(
        join(logs, "server_audit.log"),
        "20261125 10:00:00,vm,app,10.0.0.1,3,0,CONNECT,,,0\n",
      );
      const path = join(dir, "audit.sqlite");
      const config = await writeConfig(dir, { AuditLogPath: logs, SqlitePath: path });
      assertEquals((await runCli(["--config", config])).code, 0);
      // Left by a run made with another umask or as another user: SQLite gives it the file's mode.
      const holder = new DatabaseSync(path);
      try {
        holder.prepare("SELECT count(*) FROM Accounts").get();
        await Deno.chmod(`${path}-shm`, 0o444);
        const r = await runCli(["--config", config], {}, AS_UNPRIVILEGED);
        assertEquals(r.code, 1, r.stderr);
        assert(
          r.stderr.includes(`permission denied writing \\"${path}-shm\\", as root (uid 0)`),
          r.stderr,
        );
      } finally {
        holder.close();
      }
    });
  },
});
