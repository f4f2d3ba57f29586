/**
 * The fast paths of a run against the simple ways they replace: the
 * WebAssembly scanner's located sign-ins (counted from their bytes) against
 * the same lines parsed as records, and both against the reference parser;
 * timestamps read from bytes (fixed-width layouts, a per-day offset) against
 * `clockInstant`.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { lineFormat } from "../lib/format/line.ts";
import { scanBlock, type ScanStats } from "../lib/format/scan.ts";
import { parseSyslogRecord } from "../lib/format/syslog.ts";
import { toBinary } from "../lib/input/file.ts";
import { compileLayout } from "../lib/time/layout.ts";
import { clockInstant, clockInstantOfBytes, createLogClock } from "../lib/time/clock.ts";
import { loadZone } from "../lib/time/zone.ts";
import { applyEvent, applyRecord, createTally, type Tally } from "../lib/track/aggregate.ts";
import { scanRange } from "../lib/track/parallel.ts";
import { prng, withTempDir } from "./helpers.ts";
import { referenceCount } from "./reference.ts";

/** A log timestamp as UTC epoch milliseconds, or `undefined` when it is not one. */
function instant(ts: string): number | undefined {
  const m = /^(\d{4})(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)$/.exec(ts);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}

/**
 * Audit lines of every shape the scanner meets, in log order: plain ones it
 * locates, and user names with commas, blanks around ids, hosts with ports,
 * IPv6 and brackets, UTF-8 and invalid bytes, CRs, TLS fields, change-users
 * of both shapes, proxies, health checks, ids with leading zeros or over 19
 * digits, quoted operations, bad timestamps and junk.
 */
function fuzzLog(seed: number, lines: number, badTimes = true): string {
  const random = prng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  // A byte order mark is part of a name: "\ufeffbob" is not bob.
  const users = ["ann", "bob", "zo\u00eb", "a,b", "app_1", " pad ", "x\udc80y", "", "\ufeffbob"];
  const hosts = [
    "localhost",
    "10.0.0.7:51234",
    "10.0.0.7:6000",
    "127.0.0.1:unavailable",
    "::1",
    "fe80::1:2",
    "[::1]:3306",
    " db.example.com",
    "h:123456",
    "h ",
    "h :123",
    "",
  ];
  // Around the scanner's limits: 19 digits, and ids and operation over 32 bytes.
  const ids = [
    "7",
    "007",
    "14",
    "99",
    "1234567890123456789",
    "123456789012345678901234",
    "7x",
    "1:2",
  ];
  let second = 0;
  const out: string[] = [];
  while (out.length < lines) {
    if (random() < 0.4) second++;
    const d = new Date(Date.UTC(2026, 10, 25, 8) + second * 1000).toISOString();
    let ts = `${d.slice(0, 10).replaceAll("-", "")} ${d.slice(11, 19)}`;
    if (badTimes && random() < 0.02) {
      ts = pick(["2026112 08:00:00", "20261325 08:00:00", " " + ts, "x"]);
    }
    const user = pick(users), host = pick(hosts);
    let id = pick(ids);
    if (random() < 0.05) id = ` ${id} `;
    const qid = random() < 0.2 ? "98765432109" : "0";
    const r = random();
    let line: string;
    if (r < 0.25) {
      line = `${ts},vm,${user},${host},${id},${qid},CONNECT,${pick(["", "shop", "a,b"])},,0`;
    } else if (r < 0.33) {
      line = `${ts},vm,${user},${host},${id},${qid},FAILED_CONNECT,,,${pick(["1045", "0"])}`;
    } else if (r < 0.43) line = `${ts},vm,,,${id},${qid},CHANGEUSER,${"O".repeat(40)},,0`;
    else if (r < 0.48) {
      line = `${ts},vm,${user},${host},${id},${qid},CHANGE_USER,,,${pick(["0", "1045"])}`;
    } else if (r < 0.5) line = `${ts},vm,${user},${host},${id},0,PROXY_CONNECT,,\`p\`@\`%\`,0`;
    else if (r < 0.56) line = `${ts},vm,${user},${host},${id},0,DISCONNECT,,,0`;
    else if (r < 0.57) line = `${ts},,${user},${host},${id},0,CONNECT,,,0`;
    else if (r < 0.6) {
      line = `${ts},db2,${user},${host},${id},${qid},CONNECT,,,${pick(["-1", "x", "00"])}`;
    } else if (r < 0.62) line = pick(["junk", "a,b,c", `${ts},vm,u,h,1,0,CONNECT,,0`, ""]);
    else {
      line = `${ts},vm,${user},${host},${id},${Math.floor(random() * 1e6)},QUERY,shop,` +
        `'SELECT \\'x,${pick(ids)},0,CONNECT,y\\'',0`;
    }
    if (random() < 0.1) line += pick([",TLSv1.3", ",", "\r"]);
    out.push(line);
  }
  return out.map((l) => l + "\n").join("");
}

/** The bytes of `text`, UTF-8, with lone surrogates as invalid bytes. */
function bytesOf(text: string): Uint8Array {
  // "\udc80" stands for the invalid byte 0x80.
  return new Uint8Array(
    Buffer.concat(
      text.split("\udc80").flatMap((part, i) => [
        ...(i > 0 ? [Buffer.from([0x80])] : []),
        Buffer.from(part, "utf8"),
      ]),
    ),
  );
}

/** Everything a tally holds. */
function contents(tally: Tally) {
  return {
    accounts: [...tally.accounts],
    pending: [...tally.pending].sort(),
    watched: [...tally.watched].sort(),
    counts: tally.counts,
  };
}

/**
 * Scans `bytes` cut into line-aligned blocks at `cuts`; with `fast`, sign-ins
 * from their bytes; with `syslog`, as syslog lines of that ident.
 */
function scanWith(
  bytes: Uint8Array,
  cuts: number[],
  fast: boolean,
  syslog?: { ident: string; instantOf: (ts: string) => number | undefined },
) {
  const tally = createTally();
  const stats: ScanStats = { candidates: 0, malformed: 0 };
  const instantOf = syslog?.instantOf ?? instant;
  const ofBytes = (b: Uint8Array, s: number, e: number) => instantOf(toBinary(b, s, e));
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    const end = cut === bytes.length ? cut : bytes.lastIndexOf(10, cut - 1) + 1;
    if (end <= start) continue;
    scanBlock(bytes.subarray(start, end), {
      timestampCommas: 0,
      syslogIdent: syslog?.ident,
      watched: tally.watched,
      visit: (r) => applyRecord(tally, r, instantOf),
      event: fast ? (e) => applyEvent(tally, e, ofBytes) : undefined,
      stats,
    });
    start = end;
  }
  return { tally: contents(tally), malformed: stats.malformed };
}

Deno.test("scanBlock() with applyEvent() leaves the tally that parsing every line leaves, and the reference's counts (fuzz, random blocks)", () => {
  const random = prng(15);
  for (let round = 0; round < 60; round++) {
    // Half the rounds without bad timestamps, which the reference does not read.
    const badTimes = round % 2 === 0;
    const text = fuzzLog(round, 50 + Math.floor(random() * 400), badTimes);
    const bytes = bytesOf(text);
    const cuts = Array.from(
      { length: Math.floor(random() * 8) },
      () => Math.floor(random() * bytes.length),
    ).sort((a, b) => a - b);
    const slow = scanWith(bytes, [], false);
    const fast = scanWith(bytes, cuts, true);
    assertEquals(fast, slow, `round ${round}, cuts ${cuts}`);
    // The reference counts every account the same (it trims and strips ports alike).
    const reference = referenceCount(Buffer.from(bytes).toString("utf8"));
    for (const a of fast.tally.accounts) {
      const want = reference.get(`${a.user}@${a.host}`);
      assert(want, `round ${round}: ${a.user}@${a.host}`);
      if (!/x|2026112|" /.test(text)) {
        assertEquals([a.logins, a.failed], [want.logins, want.failed]);
      }
    }
  }
});

Deno.test("scanRange() reading into the scanner's memory: change-users pending across reads and blocks", async () => {
  await withTempDir(async (dir) => {
    const random = prng(5);
    const format = lineFormat(compileLayout("20060102 15:04:05"));
    for (let round = 0; round < 20; round++) {
      // Large enough for several reads of the 2 MiB buffer at small line limits.
      const text = fuzzLog(100 + round, 2000 + Math.floor(random() * 3000));
      const bytes = bytesOf(text);
      const path = join(dir, `log${round}`);
      await Deno.writeFile(path, bytes);
      const tally = createTally();
      const stats: ScanStats = { candidates: 0, malformed: 0 };
      const ofBytes = (b: Uint8Array, s: number, e: number) => instant(toBinary(b, s, e));
      await scanRange({ path, gzip: false, from: 0 }, {
        format,
        watched: tally.watched,
        visit: (r) => applyRecord(tally, r, instant),
        event: (e) => applyEvent(tally, e, ofBytes),
        stats,
        onBlock: () => {},
      });
      const slow = scanWith(bytes, [], false);
      assertEquals({ tally: contents(tally), malformed: stats.malformed }, slow, `round ${round}`);
    }
  });
});

/** Wall-clock texts around `at` (UTC ms), as `20060102 15:04:05` writes them, some broken. */
function timestamps(random: () => number, at: number, count: number): string[] {
  const out: string[] = [];
  let t = at;
  for (let i = 0; i < count; i++) {
    t += Math.floor(random() * 4) * (random() < 0.05 ? 1_800_000 : 1000);
    if (random() < 0.03) t -= 3_600_000;
    const d = new Date(t).toISOString();
    let text = `${d.slice(0, 10).replaceAll("-", "")} ${d.slice(11, 19)}`;
    if (random() < 0.05) {
      const at = Math.floor(random() * text.length);
      text = text.slice(0, at) + "x9:-. "[Math.floor(random() * 6)] + text.slice(at + 1);
    }
    if (random() < 0.02) text = text.replace(/^(\d{6})\d\d/, "$130");
    if (random() < 0.02) text += ".5";
    out.push(text);
    if (random() < 0.3) out.push(text);
  }
  return out;
}

Deno.test("clockInstantOfBytes() gives what clockInstant() gives, across DST changes, broken texts and layouts", () => {
  const random = prng(2026);
  const layouts = [
    "20060102 15:04:05",
    "%Y%m%d %H:%i:%s",
    "%Y%m%d %k:%i:%s",
    "20060102 15:04:05.000",
  ];
  const zones = ["UTC", "Europe/Zurich", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"];
  const starts = [Date.UTC(2024, 9, 26, 22), Date.UTC(2024, 2, 30, 22), Date.UTC(2024, 10, 2, 3)];
  for (let round = 0; round < 60; round++) {
    const layout = compileLayout(layouts[round % layouts.length]);
    const zone = loadZone(zones[Math.floor(random() * zones.length)]);
    const previous = random() < 0.5 ? undefined : starts[0];
    const plain = createLogClock(layout, zone, previous);
    const bytes = createLogClock(layout, zone, previous);
    const texts = timestamps(random, starts[round % starts.length], 400);
    for (const text of texts) {
      const want = clockInstant(plain, text);
      // Now and then through the text way, as a record's timestamp goes.
      const encoded = new TextEncoder().encode(`,${text},`);
      const got = random() < 0.1
        ? clockInstant(bytes, text)
        : clockInstantOfBytes(bytes, encoded, 1, encoded.length - 1);
      assertEquals(
        [got, bytes.previous],
        [want, plain.previous],
        `${layout.source} ${zone.name} ${text}`,
      );
    }
  }
});

/** `fuzzLog`'s lines as rsyslog writes them, mixed with other programs' lines and broken ones. */
function fuzzSyslog(seed: number, lines: number, ident: string): string {
  const random = prng(seed + 1000);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  return fuzzLog(seed, lines).split("\n").slice(0, -1).map((line) => {
    const comma = line.indexOf(",");
    const fields = comma === -1 ? line : line.slice(comma + 1);
    const stamp = pick([
      "2026-11-25T08:00:01.123456+01:00",
      "Nov 25 08:00:01",
      "Nov  5 08:00:01",
      "Nov 5 08:00:01 ",
    ]);
    // A header with commas would shift the fields the scanner locates.
    const long = "a-host-with-a-name-long-enough-for-a-header-over-64-bytes";
    const host = pick(["vm", "vm", "vm", "a,b", "a,b,c,1,2,X,y", long, `${long},b,c,1,2,X,y`]);
    const tag = pick([ident, ident, ident, `${ident}[42]`, "sshd[7]", ident + "x", "tag:x"]);
    // server_audit_syslog_info, empty by default, before a blank and the fields.
    const info = pick(["", "", "", "info", "a,b", "1,0,CONNECT"]);
    const r = random();
    if (r < 0.02) return `${stamp} vm`;
    if (r < 0.04) return fields;
    return `${stamp} ${host} ${tag}: ${info} ${fields}`;
  }).map((l) => l + "\n").join("");
}

Deno.test("scanBlock() on syslog lines, with applyEvent() and without, counts what parsing every line as syslog counts (fuzz, random blocks)", () => {
  const random = prng(16);
  const ident = "mysql-server_auditing";
  const instantOf = (ts: string) => ts.length * 1000 + ts.charCodeAt(ts.length - 1);
  for (let round = 0; round < 60; round++) {
    const bytes = bytesOf(fuzzSyslog(round, 50 + Math.floor(random() * 400), ident));
    const text = Buffer.from(bytes).toString("utf8");
    // The simple way: every line parsed.
    const simple = createTally();
    for (const line of text.split("\n").slice(0, -1)) {
      const record = parseSyslogRecord(line, ident);
      if (record) applyRecord(simple, record, instantOf);
    }
    const cuts = Array.from(
      { length: Math.floor(random() * 8) },
      () => Math.floor(random() * bytes.length),
    ).sort((a, b) => a - b);
    // Lines naming nobody are counted only where they are read: every line, the simple way.
    const without = (t: ReturnType<typeof contents>) => ({
      ...t,
      counts: { ...t.counts, emptyUser: 0 },
    });
    for (const fast of [false, true]) {
      const { tally } = scanWith(bytes, cuts, fast, { ident, instantOf });
      assertEquals(
        without(tally),
        without(contents(simple)),
        `round ${round}, cuts ${cuts}, fast ${fast}`,
      );
    }
  }
});

Deno.test("scanBlock() with applyEvent(): a first line with an empty server host counts as parsing it does", () => {
  const bytes = new TextEncoder().encode("20261125 10:00:00,,bob,localhost,1,0,CONNECT,,,0\n");
  assertEquals(scanWith(bytes, [], true), scanWith(bytes, [], false));
  const [bob] = scanWith(bytes, [], true).tally.accounts;
  assertEquals([bob.serverHost, bob.logins], ["", 1]);
});
