/**
 * Modification times decide nothing: a clock stepped back, a file copied in
 * with `cp -p`, 1,000 untouched rotated files. The oracle is the lines each
 * test wrote, counted by the reference parser; that an unchanged file is not
 * even opened is shown by making it unreadable.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { inScope, sortOldestFirst } from "../lib/input/discover.ts";
import {
  AS_UNPRIVILEGED,
  countsByAccount,
  runCli,
  sqlite3,
  withTempDir,
  writeConfig,
} from "./helpers.ts";
import { referenceCounts } from "./reference.ts";

const IS_ROOT = Deno.uid() === 0;

/** `n` logins and failed attempts of a few users, from second `at` on (25 Nov 2026). */
function lines(n: number, at = 0, user = "u"): string {
  let out = "";
  for (let i = 0; i < n; i++) {
    const s = at + i;
    const ts = new Date(Date.UTC(2026, 10, 25, 6) + s * 1000).toISOString()
      .replace(/^(\d+)-(\d+)-(\d+)T([\d:]+).*/, "$1$2$3 $4");
    const op = i % 4 === 3 ? "FAILED_CONNECT,,,1045" : "CONNECT,,,0";
    out += `${ts},vm,${user}${s % 7},10.2.0.${s % 3},${s + 1},0,${op}\n`;
  }
  return out;
}

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function setMtime(path: string, at: number): Promise<void> {
  await Deno.utime(path, new Date(at), new Date(at));
}

async function setup(dir: string) {
  const logs = join(dir, "logs");
  await Deno.mkdir(logs);
  const config = await writeConfig(dir, { AuditLogPath: logs });
  const run = async (code = 0, wrap: string[] = []) => {
    const r = await runCli(["--config", config], {}, wrap);
    assertEquals([r.code, r.stderr], [code, ""]);
    return r;
  };
  return { logs, log: join(logs, "server_audit.log"), db: join(dir, "audit.sqlite"), run };
}

const watermark = (db: string) =>
  sqlite3(db, "SELECT last_seen FROM Accounts WHERE name = 'mysql' AND host = 'localhost';");

Deno.test("mtime: after the clock steps back, files modified 'before' the watermark are still read, run after run", async () => {
  await withTempDir(async (dir) => {
    const { logs, log, db, run } = await setup(dir);
    // Written while the clock was a day ahead.
    const ahead = Date.now() + 86_400_000;
    const a = lines(20);
    await Deno.writeTextFile(`${log}.1`, a);
    await setMtime(`${log}.1`, ahead - 60_000);
    const b = lines(10, 20);
    await Deno.writeTextFile(log, b);
    await setMtime(log, ahead);
    await run();
    const mark = await watermark(db);
    // NTP steps the clock back: the live file keeps growing with mtimes below the watermark.
    let written = a + b;
    for (let round = 0; round < 3; round++) {
      const more = lines(8, 30 + round * 8);
      await Deno.writeTextFile(log, more, { append: true });
      await setMtime(log, Date.now() - 3_600_000 + round * 1000);
      written += more;
      await run();
      assertEquals(await countsByAccount(db), referenceCounts(written), `round ${round}`);
    }
    // A rotation with the clock behind: the new live file is older than everything read.
    await Deno.rename(`${log}.1`, `${log}.2`);
    await Deno.rename(log, `${log}.1`);
    const c = lines(5, 60);
    await Deno.writeTextFile(log, c);
    await setMtime(log, Date.now() - 7_200_000);
    written += c;
    await run();
    assertEquals(await countsByAccount(db), referenceCounts(written));
    // The watermark row, kept for the old tool's readers, never moved back.
    assertEquals(await watermark(db), mark);
    assert([...Deno.readDirSync(logs)].length === 3);
  });
});

Deno.test("mtime: a rotated file copied in with cp -p (an old mtime) is read; a cp -p copy of a file read is not read twice", async () => {
  await withTempDir(async (dir) => {
    const { logs, log, db, run } = await setup(dir);
    const live = lines(15, 100);
    await Deno.writeTextFile(log, live);
    await run();
    // A file restored from another machine, with its mtime of last week.
    const restored = join(dir, "server_audit.log.7");
    const old = lines(12, 0, "restored");
    await Deno.writeTextFile(restored, old);
    await setMtime(restored, Date.now() - 7 * 86_400_000);
    const cp = async (from: string, to: string) => {
      const out = await new Deno.Command("cp", { args: ["-p", from, to] }).output();
      assertEquals(out.code, 0);
    };
    await cp(restored, join(logs, "server_audit.log.7"));
    await run();
    assertEquals(await countsByAccount(db), referenceCounts(old + live));
    // Copies of the live file, mtimes kept, one sorting before it and one after: the same
    // fingerprint, already read; later logins in the live file are counted, once.
    await cp(log, join(logs, "server_audit.log.copy"));
    await cp(log, join(logs, "backup.log"));
    await run();
    assertEquals(await countsByAccount(db), referenceCounts(old + live));
    let later = "";
    for (let round = 0; round < 2; round++) {
      const more = lines(6, 200 + round * 6);
      await Deno.writeTextFile(log, more, { append: true });
      later += more;
      await run();
      assertEquals(
        await countsByAccount(db),
        referenceCounts(old + live + later),
      );
    }
  });
});

Deno.test("mtime: right after an old tool's database is migrated, files not newer than its watermark count as read by it; later bytes are read", async () => {
  await withTempDir(async (dir) => {
    const { log, db, run } = await setup(dir);
    const readByOldTool = lines(10), rotated = lines(10, 10, "gz"), fresh = lines(10, 20);
    await Deno.writeFile(`${log}.2.gz`, await gzip(rotated));
    await Deno.writeTextFile(`${log}.1`, readByOldTool);
    await Deno.writeTextFile(log, fresh);
    const mark = Date.parse("2026-11-25T12:00:00+01:00");
    await setMtime(`${log}.2.gz`, mark - 120_000);
    await setMtime(`${log}.1`, mark);
    await setMtime(log, mark + 60_000);
    const old = new DatabaseSync(db);
    old.exec(
      `CREATE TABLE Accounts (name TEXT, host TEXT, last_seen TIMESTAMP, PRIMARY KEY(name, host));
       INSERT INTO Accounts VALUES ('mysql', 'localhost', '2026-11-25 12:00:00+01:00');`,
    );
    old.close();
    await run();
    // The old tool read .2.gz and .1 (not newer than its watermark); the live file is newer.
    assertEquals(await countsByAccount(db), referenceCounts(fresh));
    assertEquals(
      await sqlite3(db, "SELECT count(*) FROM checkpoints WHERE offset = size;"),
      [["3"]],
    );
    // From now on checkpoints decide: bytes appended to .1 are read, whatever its mtime.
    const appended = lines(3, 40);
    await Deno.writeTextFile(`${log}.1`, appended, { append: true });
    await setMtime(`${log}.1`, mark - 3_600_000);
    await run();
    assertEquals(await countsByAccount(db), referenceCounts(fresh + appended));
  });
});

Deno.test({
  name:
    "mtime: with nothing new among 1,000 untouched rotated files (some gzip), none is opened (each unreadable)",
  ignore: !IS_ROOT,
  fn: async () => {
    await withTempDir(async (dir) => {
      const { logs, log, db, run } = await setup(dir);
      let written = "";
      for (let i = 1000; i >= 1; i--) {
        const text = lines(2, i * 10);
        // The oldest ten compressed, as logrotate leaves them.
        if (i > 990) await Deno.writeFile(`${log}.${i}.gz`, await gzip(text));
        else await Deno.writeTextFile(`${log}.${i}`, text);
        written += text;
      }
      const live = lines(3, 20_000);
      await Deno.writeTextFile(log, live);
      written += live;
      await run();
      assertEquals(await countsByAccount(db), referenceCounts(written));
      // Unreadable to a run without root's override: opening any of them would be an error.
      for (const entry of Deno.readDirSync(logs)) {
        if (entry.name !== "server_audit.log") await Deno.chmod(join(logs, entry.name), 0o000);
      }
      const more = lines(2, 30_000);
      await Deno.writeTextFile(log, more, { append: true });
      await run(0, AS_UNPRIVILEGED);
      assertEquals(await countsByAccount(db), referenceCounts(written + more));
      assertEquals(
        await sqlite3(
          db,
          "SELECT files_read, bytes_read FROM runs ORDER BY started_ms DESC LIMIT 1;",
        ),
        [["1", String(more.length)]],
      );
    });
  },
});

Deno.test("sortOldestFirst() orders a chain by its names, whatever the mtimes; inScope() is what a listing looks at", () => {
  const c = (path: string, mtimeMs: number) => ({ path, size: 1, mtimeMs, dev: 1, ino: 1 });
  const files = [
    c("/d/server_audit.log", 1),
    c("/d/server_audit.log.10", 9),
    c("/d/server_audit.log.2.gz", 5),
    c("/d/server_audit.log.1", 7),
    c("/e/a.log-20241015", 1),
    c("/e/a.log", 0),
    c("/e/a.log-20241014.gz", 3),
  ];
  assertEquals(sortOldestFirst(files).map((f) => f.path), [
    "/d/server_audit.log.10",
    "/d/server_audit.log.2.gz",
    "/d/server_audit.log.1",
    "/d/server_audit.log",
    "/e/a.log-20241014.gz",
    "/e/a.log-20241015",
    "/e/a.log",
  ]);
  const dir = { path: "/d", name: "server_audit.log", recursive: false, exclude: [] };
  assertEquals(
    ["/d/server_audit.log.3", "/d/x.log", "/d/sub/server_audit.log", "/e/server_audit.log"]
      .map((p) => inScope(dir, p)),
    [true, false, false, false],
  );
  const glob = { path: "/d/*/server_audit.log*", recursive: false, exclude: [] };
  assertEquals(
    ["/d/a/server_audit.log.1", "/d/server_audit.log", "/d/a/b/server_audit.log"]
      .map((p) => inScope(glob, p)),
    [true, false, false],
  );
});
