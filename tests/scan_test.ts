import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { applyEvent, applyRecord, createTally, type Tally } from "../lib/track/aggregate.ts";
import { toBinary } from "../lib/input/file.ts";
import { parseRecord, stripPort } from "../lib/format/record.ts";
import { scanBlock, type ScanStats } from "../lib/format/scan.ts";
import { readBlocks } from "../lib/input/source.ts";
import { readManifest } from "./attempts.ts";
import {
  countsByAccount,
  FILES_10_11,
  FILES_FULL,
  FIXTURES,
  prng,
  runCli,
  withTempDir,
  writeConfig,
} from "./helpers.ts";
import { referenceCount, referenceCounts as referenceRows } from "./reference.ts";

function binary(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

/** The bytes of a binary string. */
function bytesOf(binary: string): Uint8Array {
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function fixtureText(fixture: string, files: string[]): string {
  return files.map((f) => Deno.readTextFileSync(join(FIXTURES, fixture, f))).join("");
}

/** A log timestamp as UTC epoch milliseconds. */
function instant(ts: string): number {
  return Date.parse(ts.replace(/^(\d{4})(\d\d)(\d\d) /, "$1-$2-$3T") + "Z");
}

/** Applies the lines of blocks, in order, to `tally`, as a run does (sign-ins from their bytes). */
function scanBlocks(tally: Tally, blocks: Iterable<Uint8Array>): void {
  const stats: ScanStats = { candidates: 0, malformed: 0 };
  const ofBytes = (b: Uint8Array, s: number, e: number) => instant(toBinary(b, s, e));
  for (const block of blocks) {
    scanBlock(block, {
      timestampCommas: 0,
      watched: tally.watched,
      visit: (r) => applyRecord(tally, r, instant),
      event: (e) => applyEvent(tally, e, ofBytes),
      stats,
    });
  }
}

/** Per `user@host` of a tally: logins and failed attempts. */
function tallyCounts(tally: Tally) {
  const out = new Map<string, { logins: number; failed: number }>();
  for (const a of tally.accounts) {
    out.set(`${a.user}@${a.host}`, { logins: a.logins, failed: a.failed });
  }
  return out;
}

/** Scans `text` cut into blocks at `cuts` (line-aligned); the tally. */
function scanTally(text: string, cuts: number[] = []): Tally {
  const bytes = binary(text);
  const blocks: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    const end = cut === bytes.length ? cut : bytes.lastIndexOf("\n", cut - 1) + 1;
    if (end <= start) continue;
    blocks.push(bytesOf(bytes.slice(start, end)));
    start = end;
  }
  const tally = createTally();
  scanBlocks(tally, blocks);
  return tally;
}

/** Scans `text` cut into blocks at `cuts` (line-aligned) and counts like the reference does. */
function scanCounts(text: string, cuts: number[] = []) {
  return tallyCounts(scanTally(text, cuts));
}

function referenceCounts(text: string) {
  const out = new Map<string, { logins: number; failed: number }>();
  for (const [key, a] of referenceCount(text)) out.set(key, { logins: a.logins, failed: a.failed });
  return out;
}

Deno.test("parseRecord() reads a real CONNECT line", () => {
  assertEquals(parseRecord("20261124 23:52:28,vm,bob,127.0.0.1,8,0,CONNECT,,,0"), {
    timestamp: "20261124 23:52:28",
    serverHost: "vm",
    user: "bob",
    host: "127.0.0.1",
    connectionId: "8",
    queryId: "0",
    operation: "CONNECT",
    database: "",
    object: "",
    retcode: "0",
  });
});

Deno.test("parseRecord() takes the seventh field as the operation, not ,CONNECT, in query text", () => {
  const r = parseRecord(
    "20261124 23:52:27,vm,alice,localhost,7,25,QUERY,shop,'SELECT \\'x,CONNECT,y\\' AS a',0",
  );
  assertEquals(r?.operation, "QUERY");
  assertEquals(r?.object, "'SELECT \\'x,CONNECT,y\\' AS a'");
  assertEquals(r?.retcode, "0");
});

Deno.test("parseRecord() strips host:port and :unavailable, and reads the eleventh (TLS) field", () => {
  const tcp = parseRecord(
    "20260731 09:14:22,mdbe123,root,192.168.1.24:54312,7,0,CONNECT,mysql,,0,TLSv1.3",
  );
  assertEquals([tcp?.host, tcp?.retcode, tcp?.database], ["192.168.1.24", "0", "mysql"]);
  const sock = parseRecord("20260731 09:14:22,h,root,localhost:unavailable,7,0,CONNECT,,,0,");
  assertEquals([sock?.host, sock?.retcode], ["localhost", "0"]);
});

Deno.test("stripPort() keeps IPv6 addresses whole and strips only sure ports", () => {
  assertEquals(stripPort("::1"), "::1");
  assertEquals(stripPort("fe80::1:2"), "fe80::1:2");
  assertEquals(stripPort("[::1]:3306"), "::1");
  assertEquals(stripPort("::1:unavailable"), "::1");
  assertEquals(stripPort("db-1.example.com:3306"), "db-1.example.com");
  assertEquals(stripPort("localhost"), "localhost");
});

Deno.test("parseRecord() reads CHANGE_USER, PROXY_CONNECT, AUDIT_CONFIG and leading spaces", () => {
  assertEquals(
    parseRecord("20190622 02:10:21,h,u, localhost,5,0,CHANGE_USER,,,0")?.operation,
    "CHANGEUSER",
  );
  assertEquals(
    parseRecord("20190622 02:10:21,h,u, localhost,5,0,CHANGE_USER,,,0")?.host,
    "localhost",
  );
  const proxy = parseRecord(
    "20190622 02:10:21,h,plug,localhost:unavailable,9,0,PROXY_CONNECT,,`plug_dest`@`%`,0",
  );
  assertEquals([proxy?.operation, proxy?.object], ["PROXY_CONNECT", "`plug_dest`@`%`"]);
  const audit = parseRecord(
    "20190622 02:10:21,localhost.localdomain,,,0,0,AUDIT_CONFIG,,file_path=server_audit.log,0",
  );
  assertEquals([audit?.operation, audit?.user], ["AUDIT_CONFIG", ""]);
});

Deno.test("parseRecord() drops a trailing CR and rejects lines that are not events", () => {
  assertEquals(parseRecord("20261124 23:52:28,vm,bob,127.0.0.1,8,0,CONNECT,,,0\r")?.retcode, "0");
  assertEquals(parseRecord("2024-10-14 13:22:57 0 [Note] Starting MariaDB"), undefined);
  assertEquals(parseRecord("a,b,c,d,notanumber,0,CONNECT,,,0"), undefined);
  assertEquals(parseRecord("20261124 23:52:28,vm,bob,h,8,0,CONNECT,,0"), undefined);
});

Deno.test("parseRecord() honours commas inside the timestamp", () => {
  const r = parseRecord("20261124 23:52:28,123,vm,bob,h,8,0,CONNECT,,,0", 1);
  assertEquals([r?.timestamp, r?.user], ["20261124 23:52:28,123", "bob"]);
});

/** The real captures, each as one text, oldest file first. */
const CAPTURES: [string, string][] = [
  ["mariadb-10.11", fixtureText("mariadb-10.11", FILES_10_11)],
  ["mariadb-10.11-full", fixtureText("mariadb-10.11-full", FILES_FULL)],
  ...["mariadb-10.11-shapes", "mariadb-10.11-resolve"].map((f): [string, string] => [
    f,
    fixtureText(f, readManifest(f).files_oldest_first),
  ]),
];

Deno.test("scanBlock() finds exactly what the reference parser counts, on every real capture", () => {
  for (const [fixture, text] of CAPTURES) {
    const expected = referenceCounts(text);
    assert(expected.size > 5, fixture);
    assertEquals(scanCounts(text), expected, fixture);
  }
  // Names and a database with commas, health checks: the reference finds them too.
  const shapes = referenceCounts(CAPTURES[2][1]);
  assert(["a,b@localhost", "ops,127.0.0.1@localhost", "@127.0.0.1"].every((k) => shapes.has(k)));
});

Deno.test("scanBlock() gives the same counts at random block boundaries (change-user, 12 KB lines)", () => {
  const random = prng(42);
  for (const [fixture, text] of CAPTURES.slice(1)) {
    const expected = referenceCounts(text);
    for (let round = 0; round < 100; round++) {
      const cuts = Array.from(
        { length: 1 + Math.floor(random() * 20) },
        () => Math.floor(random() * text.length),
      ).sort((a, b) => a - b);
      assertEquals(scanCounts(text, cuts), expected, `${fixture}: cuts ${cuts}`);
    }
  }
});

Deno.test("readBlocks() and scanBlock(): lines over a random line limit are skipped wherever blocks end", async () => {
  const text = CAPTURES[2][1];
  const lines = text.split("\n").slice(0, -1);
  const random = prng(12);
  await withTempDir(async (dir) => {
    const path = join(dir, "log");
    await Deno.writeTextFile(path, text);
    for (let round = 0; round < 30; round++) {
      // Around the lengths of the capture's lines: its change-users (420 B) and long query (12 KB).
      const maxLine = Math.floor(50 + random() ** 2 * 14_000);
      const tally = createTally();
      const blocks: Uint8Array[] = [];
      await readBlocks({ path, gzip: false, from: 0 }, (block) => blocks.push(block.slice()), {
        maxLine,
      });
      scanBlocks(tally, blocks);
      const kept = lines.filter((l) => new TextEncoder().encode(l).length <= maxLine);
      assertEquals(
        tallyCounts(tally),
        referenceCounts(kept.map((l) => l + "\n").join("")),
        `${maxLine}`,
      );
    }
  });
});

Deno.test("scanBlock() never reports an event the reference would not, on mutated lines (fuzz)", () => {
  const real = [CAPTURES[1][1], CAPTURES[2][1]].join("").split("\n").filter((l) => l);
  // Newer servers' shapes: a TLS field after the retcode, or in the object field.
  const tls = real.filter((l) => /,(CONNECT|FAILED_CONNECT|CHANGEUSER),/.test(l)).flatMap((l) => [
    l + ",TLSv1.3",
    l + ",",
    l.replace(/,(\d+)$/, ",TLSv1.2,$1"),
  ]);
  // Change-user lines that name their account (other builds of the plugin).
  const named = real.filter((l) => l.includes(",0,CONNECT,")).map((l) =>
    l.replace(",0,CONNECT,", ",0,CHANGEUSER,")
  );
  const lines = [...real, ...tls, ...named];
  const alphabet = [
    "a,b",
    "sales,2024",
    ",TLSv1.3",
    ",1,2,",
    ",",
    "'",
    "\\",
    "\n",
    "\r",
    " ",
    "CONNECT",
    ",CONNECT,",
    ",0,",
    "\u00eb",
    "\x00",
    "14",
    ":",
    "",
  ];
  const random = prng(7);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  let equal = 0;
  for (let round = 0; round < 300; round++) {
    const chosen = Array.from({ length: 40 }, () => {
      let line = pick(lines);
      for (let m = Math.floor(random() * 4); m > 0; m--) {
        const at = Math.floor(random() * line.length);
        const cut = Math.floor(random() * 3);
        line = line.slice(0, at) + pick(alphabet) + line.slice(at + cut);
      }
      return line;
    });
    const text = chosen.join("\n") + "\n";
    const scanned = scanCounts(text);
    const reference = referenceCounts(text);
    for (const [key, got] of scanned) {
      const want = reference.get(key);
      assert(
        want && got.logins <= want.logins && got.failed <= want.failed,
        `round ${round}: ${key}`,
      );
    }
    if (JSON.stringify([...scanned].sort()) === JSON.stringify([...reference].sort())) equal++;
  }
  assert(equal >= 270, `only ${equal} of 300 rounds agree exactly`);
});

Deno.test("scanBlock() counts malformed candidate lines and goes on; text without ids is no candidate", () => {
  const stats: ScanStats = { candidates: 0, malformed: 0 };
  const seen: string[] = [];
  scanBlock(
    bytesOf("garbage,CONNECT,x\nbad,1,0,CONNECT,x\n20261124 23:52:28,vm,bob,h,8,0,CONNECT,,,0\n"),
    { timestampCommas: 0, watched: new Set(), visit: (r) => seen.push(r.user), stats },
  );
  assertEquals(seen, ["bob"]);
  assertEquals(stats, { candidates: 2, malformed: 1 });
});

/**
 * Change-users that name their account, as other builds of the plugin may
 * write them (MariaDB 10.11 writes an empty user and host: the real captures
 * have only that shape), with the ledger of what each connection did.
 */
const NAMED_CHANGE_USERS = [
  // 14: a named change-user, then the connection's next line names the same account.
  "20261201 10:00:00,vm,app,localhost,14,0,CONNECT,,,0",
  "20261201 10:00:01,vm,carol,localhost,14,0,CHANGEUSER,,,0",
  "20261201 10:00:02,vm,carol,localhost,14,5,QUERY,,'SELECT 1',0",
  // Two more, the second before any other line, then the connection ends.
  "20261201 10:00:03,vm,dave,localhost,14,0,CHANGEUSER,,,0",
  "20261201 10:00:04,vm,a,b,localhost,14,0,CHANGE_USER,sales,2024,,0",
  "20261201 10:00:05,vm,a,b,localhost,14,0,DISCONNECT,sales,2024,,0",
  // 15: a failed one (the session keeps carol), then the last line of the log.
  "20261201 10:00:06,vm,bob,127.0.0.1,15,0,CONNECT,,,0,TLSv1.3",
  "20261201 10:00:07,vm,eve,127.0.0.1,15,0,CHANGEUSER,,,1045,TLSv1.3",
  "20261201 10:00:08,vm,carol,127.0.0.1,15,0,CHANGEUSER,,,0,TLSv1.3",
  // 16: the 10.11 shape (pending), then a named one before any line names the first.
  "20261201 10:00:09,vm,bob,localhost,16,0,CONNECT,,,0",
  "20261201 10:00:10,vm,,,16,0,CHANGEUSER,OOOO,OOOO,,0",
  "20261201 10:00:11,vm,dave,localhost,16,0,CHANGEUSER,,,0",
  "20261201 10:00:12,vm,dave,localhost,16,9,QUERY,,'SELECT 2',0",
].join("\n") + "\n";

/** What the lines above did, per account: logins, failed attempts, last login. */
const NAMED_LEDGER = new Map([
  ["app@localhost", { logins: 1, failed: 0, lastLogin: "20261201 10:00:00" }],
  ["carol@localhost", { logins: 1, failed: 0, lastLogin: "20261201 10:00:01" }],
  ["dave@localhost", { logins: 2, failed: 0, lastLogin: "20261201 10:00:11" }],
  ["a,b@localhost", { logins: 1, failed: 0, lastLogin: "20261201 10:00:04" }],
  ["bob@127.0.0.1", { logins: 1, failed: 0, lastLogin: "20261201 10:00:06" }],
  ["eve@127.0.0.1", { logins: 0, failed: 1, lastLogin: undefined }],
  ["carol@127.0.0.1", { logins: 1, failed: 0, lastLogin: "20261201 10:00:08" }],
  ["bob@localhost", { logins: 1, failed: 0, lastLogin: "20261201 10:00:09" }],
]);

Deno.test("applyRecord(): a change-user line that names its account counts once, at its time", () => {
  const random = prng(4);
  for (let round = 0; round < 50; round++) {
    const cuts = [Math.floor(random() * NAMED_CHANGE_USERS.length)];
    const tally = scanTally(NAMED_CHANGE_USERS, cuts);
    const got = new Map(
      [...tally.accounts].map((a) => [`${a.user}@${a.host}`, {
        logins: a.logins,
        failed: a.failed,
        lastLogin: a.lastLogin,
      }]),
    );
    const want = new Map(
      [...NAMED_LEDGER].map((
        [k, e],
      ) => [k, { ...e, lastLogin: e.lastLogin && instant(e.lastLogin) }]),
    );
    assertEquals(got, want, `cut at ${cuts}`);
    // The 10.11-shaped one of connection 16 was dropped: its account was never named.
    assertEquals([tally.pending.size, tally.counts.changeUsersDropped], [0, 1]);
  }
  const reference = referenceCount(NAMED_CHANGE_USERS);
  assertEquals(
    new Map([...reference].map(([k, a]) => [k, [a.logins, a.failed, a.lastLogin]])),
    new Map([...NAMED_LEDGER].map(([k, e]) => [k, [e.logins, e.failed, e.lastLogin]])),
  );
});

Deno.test("run: a named change-user at the end of one run, its connection's next line in the next: once", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "logs"));
    const log = join(dir, "logs", "server_audit.log");
    const config = await writeConfig(dir, { AuditLogPath: join(dir, "logs") });
    const lines = NAMED_CHANGE_USERS.split("\n");
    const first = lines.slice(0, 2).join("\n") + "\n";
    await Deno.writeTextFile(log, first);
    assertEquals((await runCli(["--config", config])).code, 0);
    await Deno.writeTextFile(log, NAMED_CHANGE_USERS.slice(first.length), { append: true });
    const run = await runCli(["--config", config]);
    assertEquals([run.code, run.stderr], [0, ""]);
    const ledger = [...NAMED_LEDGER].map((
      [k, e],
    ): [string, number, number] => [k, e.logins, e.failed])
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    assertEquals(await countsByAccount(join(dir, "audit.sqlite")), ledger);
    assertEquals(referenceRows(NAMED_CHANGE_USERS), ledger);
  });
});
