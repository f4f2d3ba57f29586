import { deepStrictEqual as assertEquals } from "node:assert";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { toBinary } from "../lib/input/file.ts";
import { readBlocks } from "../lib/input/source.ts";
import { prng, runCli, sqlite3, withTempDir, writeConfig } from "./helpers.ts";

/** The reader's contract, computed the simple way: split on "\n". */
function expectedLines(text: string, from: number, maxLine: number) {
  const rest = text.slice(from);
  const end = rest.lastIndexOf("\n") + 1;
  const lines = rest.slice(0, end).split("\n").slice(0, -1);
  return {
    kept: lines.filter((l) => l.length <= maxLine),
    longLines: lines.filter((l) => l.length > maxLine).length,
    offset: from + end,
  };
}

async function readAll(path: string, gzip: boolean, from: number, maxLine: number) {
  const kept: string[] = [];
  let lastEnd = from;
  const result = await readBlocks({ path, gzip, from }, (bytes, end) => {
    const block = toBinary(bytes, 0, bytes.length);
    if (!block.endsWith("\n") || end <= lastEnd) throw new Error(`bad block ending at ${end}`);
    lastEnd = end;
    kept.push(...block.split("\n").slice(0, -1));
  }, { maxLine });
  return { kept, longLines: result.longLines, offset: result.offset };
}

Deno.test("readBlocks() fuzz: random lines, limits, offsets and read boundaries, plain and gzip", async () => {
  await withTempDir(async (dir) => {
    const random = prng(20261125);
    for (let round = 0; round < 200; round++) {
      const maxLine = 4 + Math.floor(random() * 60);
      const lines: string[] = [];
      const count = Math.floor(random() * 40);
      for (let i = 0; i < count; i++) {
        const length = Math.floor(random() ** 2 * maxLine * 3);
        lines.push(Array.from({ length }, () => "abc,\r é"[Math.floor(random() * 8)]).join(""));
      }
      // Sometimes a partial last line, which must be left for later.
      const partial = random() < 0.5 ? "partial" : "";
      const bytes = new TextEncoder().encode(lines.map((l) => l + "\n").join("") + partial);
      // The reader works on bytes; its strings have one character per byte.
      const text = new TextDecoder("latin1").decode(bytes);
      const starts = [0, ...[...text.matchAll(/\n/g)].map((m) => m.index! + 1)];
      const from = starts[Math.floor(random() * starts.length)];
      const gzip = random() < 0.3;
      const path = join(dir, `f${round}`);
      await Deno.writeFile(path, gzip ? gzipSync(bytes) : bytes);
      const got = await readAll(path, gzip, from, maxLine);
      assertEquals(got, expectedLines(text, from, maxLine), `round ${round}`);
    }
  });
});

Deno.test("run: a line over 1 MiB is skipped and counted, the lines around it are read", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "logs"));
    const huge = `20261125 10:00:01,vm,app,localhost,5,7,QUERY,shop,'SELECT '${
      "x,CONNECT,".repeat(150_000)
    }'',0\n`;
    const text = "20261125 10:00:00,vm,before,localhost,4,0,CONNECT,,,0\n" + huge +
      "20261125 10:00:02,vm,after,localhost,6,0,CONNECT,,,0\n" + huge.repeat(3) +
      "20261125 10:00:03,vm,last,localhost,7,0,CONNECT,,,0\n";
    await Deno.writeTextFile(join(dir, "logs", "server_audit.log"), text);
    const config = await writeConfig(dir, { AuditLogPath: join(dir, "logs") });
    const run = await runCli(["--config", config]);
    assertEquals([run.code, run.stderr], [0, ""]);
    const db = join(dir, "audit.sqlite");
    assertEquals(await sqlite3(db, "SELECT name, logins FROM activity ORDER BY name;"), [
      ["after", "1"],
      ["before", "1"],
      ["last", "1"],
    ]);
    assertEquals(await sqlite3(db, "SELECT long_lines, bytes_read FROM runs;"), [
      ["4", String(new TextEncoder().encode(text).length)],
    ]);
  });
});

Deno.test("run: files whose first line is over 1 MiB (plain and gzip) are read; that line is skipped and counted", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "logs"));
    // Each file's first line is its own event (its own time and query id), as the plugin writes.
    const huge = (time: string, queryId: number) =>
      `20261125 ${time},vm,a,b,localhost,5,${queryId},QUERY,sales,2024,'SELECT \\'${
        ",9,0,CONNECT,".repeat(90_000)
      }\\'',0\n`;
    const rotated = huge("09:00:00", 7) +
      "20261125 09:00:01,vm,a,b,localhost,6,0,CONNECT,sales,2024,,0\n";
    const live = huge("10:00:00", 9) +
      "20261125 10:00:02,vm,after,127.0.0.1,8,0,FAILED_CONNECT,,,1045\n";
    await Deno.writeFile(join(dir, "logs", "server_audit.log.1.gz"), gzipSync(rotated));
    await Deno.writeTextFile(join(dir, "logs", "server_audit.log"), live);
    const config = await writeConfig(dir, { AuditLogPath: join(dir, "logs") });
    const run = await runCli(["--config", config]);
    assertEquals([run.code, run.stderr], [0, ""]);
    const db = join(dir, "audit.sqlite");
    assertEquals(
      await sqlite3(db, "SELECT name, logins, failed_attempts FROM activity ORDER BY name;"),
      [["a,b", "1", "0"], ["after", "0", "1"]],
    );
    assertEquals(await sqlite3(db, "SELECT long_lines FROM runs;"), [["2"]]);
  });
});
