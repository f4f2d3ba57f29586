import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { applyRecord, createTally } from "../lib/track/aggregate.ts";
import { parseRecord, stripPort } from "../lib/format/record.ts";
import { scanBlock, type ScanStats } from "../lib/format/scan.ts";
import { FILES_10_11, FILES_FULL, FIXTURES, prng } from "./helpers.ts";
import { referenceCount } from "./reference.ts";

function binary(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

function fixtureText(fixture: string, files: string[]): string {
  return files.map((f) => Deno.readTextFileSync(join(FIXTURES, fixture, f))).join("");
}

/** Scans `text` cut into blocks at `cuts` (line-aligned) and counts like the reference does. */
function scanCounts(text: string, cuts: number[] = []) {
  const bytes = binary(text);
  const tally = createTally();
  const stats: ScanStats = { candidates: 0, malformed: 0 };
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    const end = cut === bytes.length ? cut : bytes.lastIndexOf("\n", cut - 1) + 1;
    if (end <= start) continue;
    scanBlock(bytes.slice(start, end), {
      timestampCommas: 0,
      watched: tally.watched,
      visit: (r) =>
        applyRecord(
          tally,
          r,
          (ts) => Date.parse(ts.replace(/^(\d{4})(\d\d)(\d\d) /, "$1-$2-$3T") + "Z"),
        ),
      stats,
    });
    start = end;
  }
  const out = new Map<string, { logins: number; failed: number }>();
  for (const a of tally.accounts.values()) {
    out.set(`${a.user}@${a.host}`, { logins: a.logins, failed: a.failed });
  }
  return out;
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

Deno.test("scanBlock() finds exactly what the reference parser counts, on both real captures", () => {
  for (
    const [fixture, files] of [["mariadb-10.11", FILES_10_11], [
      "mariadb-10.11-full",
      FILES_FULL,
    ]] as const
  ) {
    const text = fixtureText(fixture, [...files]);
    const expected = referenceCounts(text);
    assert(expected.size > 5);
    assertEquals(scanCounts(text), expected);
  }
});

Deno.test("scanBlock() gives the same counts at random block boundaries (change-user across blocks)", () => {
  const text = fixtureText("mariadb-10.11-full", FILES_FULL);
  const expected = referenceCounts(text);
  const random = prng(42);
  for (let round = 0; round < 200; round++) {
    const cuts = Array.from(
      { length: 1 + Math.floor(random() * 20) },
      () => Math.floor(random() * text.length),
    ).sort((a, b) => a - b);
    assertEquals(scanCounts(text, cuts), expected, `cuts ${cuts}`);
  }
});

Deno.test("scanBlock() never reports an event the reference would not, on mutated lines (fuzz)", () => {
  const lines = fixtureText("mariadb-10.11-full", FILES_FULL).split("\n").filter((l) => l);
  const alphabet = [
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
    "garbage,CONNECT,x\nbad,1,0,CONNECT,x\n20261124 23:52:28,vm,bob,h,8,0,CONNECT,,,0\n",
    { timestampCommas: 0, watched: new Set(), visit: (r) => seen.push(r.user), stats },
  );
  assertEquals(seen, ["bob"]);
  assertEquals(stats, { candidates: 2, malformed: 1 });
});
