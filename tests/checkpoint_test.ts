/**
 * Scenario tests of reading across runs: rotation, compression, truncation,
 * partial lines, losses, locks. The oracle is the lines each test wrote,
 * counted by the reference parser.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  countsByAccount,
  instantAt,
  runCli,
  sqlite3,
  withTempDir,
  writeConfig,
} from "./helpers.ts";
import { referenceCounts } from "./reference.ts";

let connection = 100;

/** `n` audit lines: logins and failures of a few users, with queries around them. */
function lines(n: number, second = 0): string {
  let out = "";
  for (let i = 0; i < n; i++) {
    const id = ++connection;
    const ts = `20261124 10:${String(Math.floor((second + i) / 60) % 60).padStart(2, "0")}:${
      String((second + i) % 60).padStart(2, "0")
    }`;
    const user = ["ann", "bo", "cy"][i % 3];
    const op = i % 4 === 3 ? "FAILED_CONNECT,,,1045" : "CONNECT,,,0";
    out += `${ts},vm,${user},10.0.0.${i % 2}:${4000 + i},${id},0,${op}\n`;
    out += `${ts},vm,${user},10.0.0.${i % 2}:${
      4000 + i
    },${id},${id},QUERY,,'SELECT \\'a,CONNECT,b\\'',0\n`;
  }
  return out;
}

async function gzip(path: string): Promise<void> {
  const data = await Deno.readFile(path);
  const compressed = await new Response(
    new Blob([data]).stream().pipeThrough(new CompressionStream("gzip")),
  ).arrayBuffer();
  await Deno.writeFile(`${path}.gz`, new Uint8Array(compressed));
  await Deno.remove(path);
}

async function setup(dir: string, keys: Record<string, string> = {}) {
  await Deno.mkdir(join(dir, "logs"));
  const config = await writeConfig(dir, { AuditLogPath: join(dir, "logs"), ...keys });
  const run = async (code = 0) => {
    const r = await runCli(["--config", config]);
    assertEquals(r.code, code, r.stderr);
    return r;
  };
  return { log: join(dir, "logs", "server_audit.log"), db: join(dir, "audit.sqlite"), run, config };
}

Deno.test("checkpoints: rename rotation and gzip of a read file count every line once", async () => {
  await withTempDir(async (dir) => {
    const { log, db, run } = await setup(dir);
    const a = lines(30), b = lines(20, 30), c = lines(10, 50);
    await Deno.writeTextFile(log, a);
    await run();
    await Deno.writeTextFile(log, b, { append: true });
    await Deno.rename(log, `${log}.1`);
    await Deno.writeTextFile(log, c);
    await run();
    await gzip(`${log}.1`);
    await run();
    assertEquals(await countsByAccount(db), referenceCounts(a + b + c));
  });
});

Deno.test("checkpoints: a half-read file renamed and gzipped is read on from where it stopped", async () => {
  await withTempDir(async (dir) => {
    const { log, db, run } = await setup(dir);
    const a = lines(25), b = lines(25, 25);
    await Deno.writeTextFile(log, a);
    await run();
    await Deno.writeTextFile(log, b, { append: true });
    await Deno.rename(log, `${log}.1`);
    await gzip(`${log}.1`);
    const r = await run();
    assertEquals(r.stderr, "");
    assertEquals(await countsByAccount(db), referenceCounts(a + b));
  });
});

Deno.test("checkpoints: copytruncate and truncation", async () => {
  await withTempDir(async (dir) => {
    const { log, db, run } = await setup(dir);
    const a = lines(20), b = lines(5, 20), c = lines(7, 25);
    await Deno.writeTextFile(log, a);
    await run();
    await Deno.writeTextFile(log, b, { append: true });
    await Deno.copyFile(log, `${log}.1`); // logrotate copytruncate
    await Deno.truncate(log, 0);
    await Deno.writeTextFile(log, c);
    await run();
    assertEquals(await countsByAccount(db), referenceCounts(a + b + c));
    // Truncated and rewritten with the same first line, shorter: read from the start.
    const first = c.split("\n")[0] + "\n";
    await Deno.writeTextFile(log, first);
    await run();
    assertEquals(await countsByAccount(db), referenceCounts(a + b + c + first));
  });
});

Deno.test("checkpoints: a partial last line is read once complete; CRLF and invalid UTF-8 are read", async () => {
  await withTempDir(async (dir) => {
    const { log, db, run } = await setup(dir);
    const full = "20261124 10:00:00,vm,dora,localhost,1,0,CONNECT,,,0\n";
    await Deno.writeTextFile(log, full + full.slice(0, 30));
    await run();
    await Deno.writeTextFile(log, full.slice(30).replace("\n", "\r\n"), { append: true });
    const bad = new Uint8Array([
      ...new TextEncoder().encode("20261124 10:00:01,vm,dora,localhost,2,5,QUERY,,'SELECT \\'"),
      0xc3,
      0x28,
      0xff,
      ...new TextEncoder().encode("\\'',0\n20261124 10:00:02,vm,zo"),
      0xeb,
      ...new TextEncoder().encode(",localhost,3,0,CONNECT,,,0\n"),
    ]);
    await Deno.writeFile(log, bad, { append: true });
    await run();
    assertEquals(await countsByAccount(db), [["dora@localhost", 2, 0], [
      "zo\ufffd@localhost",
      1,
      0,
    ]]);
  });
});

Deno.test("checkpoints: a half-read file deleted by rotation is reported as lost (exit 3); renamed or gzipped it is not", async () => {
  await withTempDir(async (dir) => {
    const { log, db, run } = await setup(dir);
    const whole = lines(10);
    const partial = "20261124 11:00:00,vm,lost,10.0.0.9,9,0,CONN";
    await Deno.writeTextFile(log, whole + partial);
    await run();
    await Deno.rename(log, `${log}.1`);
    await gzip(`${log}.1`);
    await Deno.writeTextFile(log, lines(2, 10));
    await run(); // compressed: found again, nothing lost
    await Deno.remove(`${log}.1.gz`);
    const r = await run(3);
    assert(
      /level=ERROR msg="audit file removed before it was read to the end: events lost" file=\S+server_audit\.log(\.1\.gz)? unread_bytes=(\d+) /
        .exec(r.stderr)?.[2] ===
        String(partial.length),
      r.stderr,
    );
    assertEquals(r.stderr.trim().split("\n").length, 1);
    // From the last event read to the first event of the file that followed it.
    assertEquals(await sqlite3(db, "SELECT unread_bytes, from_ms, to_ms FROM losses;"), [[
      String(partial.length),
      String(instantAt("20261124 10:00:09", "+01:00")),
      String(instantAt("20261124 10:00:10", "+01:00")),
    ]]);
    await run(0); // reported once
  });
});

Deno.test("checkpoints: a new file on a reused inode is read from its start; the deleted live file is a possible loss", async () => {
  await withTempDir(async (dir) => {
    const { log, db, run } = await setup(dir);
    const a = lines(12), b = lines(15, 12);
    await Deno.writeTextFile(log, a);
    await run();
    await Deno.remove(log);
    await Deno.writeTextFile(log, b);
    // The file being written is gone: what it got after the run read it cannot be known.
    const r = await run(3);
    // No byte count: none is known unread (the file may have grown); the time range says it.
    assert(
      /level=ERROR msg="audit file removed before it was read to the end: events lost" file=\S+ from=\S+ to=\S+$/m
        .test(r.stderr),
      r.stderr,
    );
    assertEquals(await countsByAccount(db), referenceCounts(a + b));
    assertEquals(await sqlite3(db, "SELECT unread_bytes, from_ms, to_ms FROM losses;"), [[
      "0",
      String(instantAt("20261124 10:00:11", "+01:00")),
      String(instantAt("20261124 10:00:12", "+01:00")),
    ]]);
  });
});

Deno.test("concurrency: a run waits for another, then gives up with exit code 4 and changes nothing", async () => {
  await withTempDir(async (dir) => {
    const { log, db, run } = await setup(dir, { LockTimeout: "1" });
    await Deno.writeTextFile(log, lines(3));
    await run();
    const before = await countsByAccount(db);
    await Deno.writeTextFile(log, lines(3, 3), { append: true });
    const holder = new DatabaseSync(db);
    holder.exec("BEGIN IMMEDIATE");
    try {
      const r = await run(4);
      assert(/Database is locked by another run.*file=\S+audit\.sqlite/.test(r.stderr), r.stderr);
      assertEquals(await countsByAccount(db), before);
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
  });
});

Deno.test("concurrency: runs started at once count every line once", async () => {
  await withTempDir(async (dir) => {
    const { log, db, config } = await setup(dir);
    const text = lines(200);
    await Deno.writeTextFile(log, text);
    const results = await Promise.all(
      Array.from({ length: 4 }, () => runCli(["--config", config])),
    );
    assertEquals(results.map((r) => r.code), [0, 0, 0, 0], results.map((r) => r.stderr).join(""));
    assertEquals(await countsByAccount(db), referenceCounts(text));
    assertEquals(await sqlite3(db, "PRAGMA integrity_check;"), [["ok"]]);
  });
});

Deno.test("checkpoints: rotated files deleted after they were read are no loss; when the file written at the last run is the oldest left, a WARN says the interval is nearly too long", async () => {
  await withTempDir(async (dir) => {
    const { log, db, run } = await setup(dir, { LogLevel: "WARN" });
    const a = lines(5), b = lines(5, 5), c = lines(5, 10), d = lines(5, 15), e = lines(5, 20);
    await Deno.writeTextFile(`${log}.2`, a);
    await Deno.writeTextFile(`${log}.1`, b);
    await Deno.writeTextFile(log, c);
    assertEquals((await run()).stderr, "");
    // Two rotations of a plugin keeping two rotated files: a and b deleted, c now the oldest.
    const rotate = async (next: string) => {
      await Deno.remove(`${log}.2`);
      await Deno.rename(`${log}.1`, `${log}.2`);
      await Deno.rename(log, `${log}.1`);
      await Deno.writeTextFile(log, next);
    };
    await rotate(d);
    await rotate(e);
    const r = await run(0);
    assert(
      /level=WARN msg="2 audit files rotated away and 2 appeared since the last run [\d.]+ minutes ago: one more rotation between runs would lose events; run conntracker more often" rotated_away=2 appeared=2 kept=3 /
        .test(r.stderr),
      r.stderr,
    );
    assertEquals(r.stderr.trim().split("\n").length, 1);
    assertEquals(await sqlite3(db, "SELECT count(*) FROM losses;"), [["0"]]);
    assertEquals(await countsByAccount(db), referenceCounts(a + b + c + d + e));
  });
});
