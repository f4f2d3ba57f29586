import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { looksLikeAuditLog, mayStartAuditLog } from "../lib/format/identify.ts";
import { lineFormat } from "../lib/format/line.ts";
import { parseHeader, parseRecord } from "../lib/format/record.ts";
import { fingerprint, HEAD_BYTES, readHead } from "../lib/input/head.ts";
import { MAX_LINE_BYTES } from "../lib/input/source.ts";
import { compileLayout } from "../lib/time/layout.ts";
import { readManifest } from "./attempts.ts";
import { FIXTURES, withTempDir } from "./helpers.ts";

const FORMAT = lineFormat(compileLayout("20060102 15:04:05"));
const T = "20261201 20:12:50";

/** The fields that count of a parsed line, for short assertions. */
function fields(line: string) {
  const r = parseRecord(line);
  return r && [r.user, r.host, r.operation, r.database, r.object, r.retcode];
}

Deno.test("parseRecord() reads a database with commas from the right, on every connection event", () => {
  for (const op of ["CONNECT", "DISCONNECT", "FAILED_CONNECT", "CHANGEUSER", "CHANGE_USER"]) {
    const spelled = op === "CHANGE_USER" ? "CHANGEUSER" : op;
    assertEquals(fields(`${T},vm,app,127.0.0.1,677,0,${op},sales,2024,,0`), [
      "app",
      "127.0.0.1",
      spelled,
      "sales,2024",
      "",
      "0",
    ]);
    assertEquals(fields(`${T},vm,app,127.0.0.1,677,0,${op},a,,b,,,1045`), [
      "app",
      "127.0.0.1",
      spelled,
      "a,,b,",
      "",
      "1045",
    ]);
  }
});

Deno.test("parseRecord() reads the TLS field after the retcode (11 fields) and in the object (10)", () => {
  // Enterprise 12.3: an eleventh field, empty when unencrypted.
  assertEquals(fields(`${T},h,root,192.168.1.24:54312,7,0,CONNECT,sales,2024,,0,TLSv1.3`), [
    "root",
    "192.168.1.24",
    "CONNECT",
    "sales,2024",
    "",
    "0",
  ]);
  assertEquals(fields(`${T},h,root,localhost:unavailable,7,0,FAILED_CONNECT,x,y,,1045,`), [
    "root",
    "localhost",
    "FAILED_CONNECT",
    "x,y",
    "",
    "1045",
  ]);
  // Community 12.x: the TLS version in the object field, ten fields.
  assertEquals(fields(`${T},h,root,10.0.0.5:4000,7,0,CONNECT,sales,2024,TLSv1.3,0`), [
    "root",
    "10.0.0.5",
    "CONNECT",
    "sales,2024",
    "TLSv1.3",
    "0",
  ]);
  // A database whose last piece is a number, before an empty TLS field.
  assertEquals(fields(`${T},h,u,h1,7,0,CONNECT,a,7,,0,`)?.slice(3), ["a,7", "", "0"]);
});

Deno.test("parseRecord() reads a user name with commas between the server host and the host", () => {
  assertEquals(fields(`${T},vm,a,b,localhost,11,0,CONNECT,,,0`), [
    "a,b",
    "localhost",
    "CONNECT",
    "",
    "",
    "0",
  ]);
  // A piece of the name that looks like a host, or like an id.
  assertEquals(fields(`${T},vm,ops,127.0.0.1,localhost,10,0,FAILED_CONNECT,,,1044`)?.slice(0, 3), [
    "ops,127.0.0.1",
    "localhost",
    "FAILED_CONNECT",
  ]);
  assertEquals(fields(`${T},vm,a,5,localhost,9,0,CONNECT,,,0`)?.slice(0, 2), ["a,5", "localhost"]);
  assertEquals(fields(`${T},vm,a,5,6,X,h,9,0,CONNECT,,,0`)?.slice(0, 3), [
    "a,5,6,X",
    "h",
    "CONNECT",
  ]);
  // Both at once, and on a query line (its text may quote anything).
  assertEquals(fields(`${T},vm,a,b,127.0.0.1,8,0,CONNECT,sales,2024,,0`)?.slice(0, 4), [
    "a,b",
    "127.0.0.1",
    "CONNECT",
    "sales,2024",
  ]);
  const query = parseRecord(
    `${T},vm,a,b,localhost,8,16,QUERY,shop,'SELECT \\'x,1,2,CONNECT,y\\'',0`,
  );
  assertEquals([query?.user, query?.operation, query?.object], [
    "a,b",
    "QUERY",
    "'SELECT \\'x,1,2,CONNECT,y\\''",
  ]);
  // Empty user and host (a 10.11 change-user, AUDIT_CONFIG).
  assertEquals(fields(`${T},vm,,,60,0,CHANGEUSER,OO,O,,0`), [
    "",
    "",
    "CHANGEUSER",
    "OO,O",
    "",
    "0",
  ]);
});

Deno.test("parseRecord() reads what the JSDoc calls ambiguous the way it says", () => {
  // From its third piece on, two pieces of digits and one of capitals: the first match wins.
  assertEquals(fields(`${T},vm,a,b,1,2,X,h,9,0,CONNECT,,,0`)?.slice(0, 3), ["a", "b", "X"]);
});

Deno.test("parseRecord() reads a proxied account with commas, after a database with commas", () => {
  const r = parseRecord(`${T},h,plug,localhost:unavailable,9,0,PROXY_CONNECT,db,1,\`a,b\`@\`%\`,0`);
  assertEquals([r?.database, r?.object, r?.retcode], ["db,1", "`a,b`@`%`", "0"]);
  const plain = parseRecord(
    `${T},h,plug,localhost,9,0,PROXY_CONNECT,,\`plug_dest\`@\`%\`,0,TLSv1.2`,
  );
  assertEquals([plain?.database, plain?.object, plain?.retcode], ["", "`plug_dest`@`%`", "0"]);
});

Deno.test("parseRecord() rejects connection events without a numeric retcode at the end", () => {
  assertEquals(parseRecord(`${T},vm,bob,h,8,0,CONNECT,,,x`), undefined);
  assertEquals(parseRecord(`${T},vm,bob,h,8,0,CONNECT,,0`), undefined);
  assertEquals(parseRecord(`${T},vm,bob,h,8,0,CONNECT,,,0,TLSv1.3,`), undefined);
  assertEquals(parseRecord(`${T},vm,bob,h,8,x,CONNECT,,,0`), undefined);
  assertEquals(parseRecord(`,vm,bob,h,8,0,CONNECT,,,0`), undefined);
});

Deno.test("parseRecord() gives every attempt of the real capture its logged user, host and database", () => {
  const { attempts } = readManifest("mariadb-10.11-shapes");
  let checked = 0;
  for (const a of attempts) {
    const r = parseRecord(a.logged!);
    assert(r, a.logged);
    // A successful change-user is logged naming nobody (10.11): its account is on a later line.
    if (r.operation === "CHANGEUSER" && r.retcode === "0") {
      assertEquals([r.user, r.host, a.ok], ["", "", true]);
      continue;
    }
    assertEquals([r.user, r.host, r.retcode === "0"], [a.user, a.host, a.ok], a.logged);
    if (r.operation === "CONNECT") assertEquals(r.database, a.database ?? "", a.logged);
    checked++;
  }
  assert(checked >= 50, `${checked}`);
  assert(attempts.some((a) => a.user.includes(",") && a.database?.includes(",")));
});

Deno.test("parseHeader() reads the start of a line cut anywhere after its operation", () => {
  const line = `${T},vm,a,b,localhost,8,16,QUERY,shop,'SELECT 1`;
  assertEquals(parseHeader(line)?.header, {
    timestamp: T,
    serverHost: "vm",
    user: "a,b",
    host: "localhost",
    connectionId: "8",
    queryId: "16",
    operation: "QUERY",
  });
  assertEquals(line.slice(parseHeader(line)!.rest), "shop,'SELECT 1");
  assertEquals(parseHeader(`${T},vm,a,b,localhost,8,16,QUERY`), undefined);
});

/** SHA-256, hex, of bytes: the fingerprint's rule written out with another library. */
function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A query line of `length` bytes, with its newline (ASCII: one byte a character). */
function queryLine(length: number): string {
  const start = `${T},vm,a,b,localhost,5,7,QUERY,sales,2024,'SELECT \\'`;
  const end = `\\'',0\n`;
  return start + ",5,0,CONNECT,".repeat(length).slice(0, length - start.length - end.length) + end;
}

Deno.test("readHead(): a first line of 12 KB, plain and gzip, growing: one identity, an audit log", async () => {
  await withTempDir(async (dir) => {
    const first = new TextEncoder().encode(queryLine(12_580));
    const connect = new TextEncoder().encode(`${T},vm,app,127.0.0.1,6,0,CONNECT,sales,2024,,0\n`);
    const expected = sha256(first.subarray(0, 4096));
    for (
      const [name, bytes] of [["short", first], [
        "grown",
        new Uint8Array([...first, ...connect]),
      ]] as const
    ) {
      await Deno.writeFile(join(dir, name), bytes);
      await Deno.writeFile(join(dir, `${name}.gz`), gzipSync(bytes));
      for (const path of [name, `${name}.gz`]) {
        const head = await readHead(join(dir, path));
        assertEquals([head.gzip, head.longFirstLine], [path.endsWith(".gz"), false]);
        assertEquals(head.bytes.subarray(0, first.length), first);
        assertEquals(await fingerprint(head.bytes), expected);
        assert(looksLikeAuditLog(head, FORMAT), path);
      }
    }
  });
});

Deno.test("fingerprint() is SHA-256 of the first line, or of its first 4096 bytes when longer (as ever)", async () => {
  const short = new TextEncoder().encode(`${T},vm,bob,h,8,0,CONNECT,,,0\nmore`);
  assertEquals(await fingerprint(short), sha256(short.subarray(0, short.indexOf(10) + 1)));
  const long = new TextEncoder().encode(queryLine(5000));
  assertEquals(await fingerprint(long), sha256(long.subarray(0, 4096)));
  assertEquals(await fingerprint(long.subarray(0, 4096)), sha256(long.subarray(0, 4096)));
  assertEquals(await fingerprint(long.subarray(0, 4095)), undefined);
});

Deno.test("readHead(): a first line over the line limit is judged by its start; a query passes, a CONNECT cannot be that long", async () => {
  await withTempDir(async (dir) => {
    const long = queryLine(MAX_LINE_BYTES + 5000);
    const bytes = new TextEncoder().encode(long + `${T},vm,app,127.0.0.1,6,0,CONNECT,,,0\n`);
    await Deno.writeFile(join(dir, "long"), bytes);
    await Deno.writeFile(join(dir, "long.gz"), gzipSync(bytes));
    for (const path of ["long", "long.gz"]) {
      const head = await readHead(join(dir, path));
      assertEquals(head.longFirstLine, true);
      assertEquals(head.bytes.length, MAX_LINE_BYTES + 1);
      assertEquals(await fingerprint(head.bytes), sha256(bytes.subarray(0, 4096)));
      assert(looksLikeAuditLog(head, FORMAT));
    }
    const connect = `${T},vm,app,127.0.0.1,6,0,CONNECT,${"d".repeat(MAX_LINE_BYTES)},,0\n`;
    await Deno.writeTextFile(join(dir, "connect"), connect);
    const head = await readHead(join(dir, "connect"));
    assertEquals([head.longFirstLine, looksLikeAuditLog(head, FORMAT)], [true, false]);
    // Within the limit (small here), the same line is whole.
    const within = await readHead(join(dir, "long"), { maxLine: long.length + 10 });
    assertEquals(within.longFirstLine, false);
    assert(looksLikeAuditLog(within, FORMAT));
  });
});

Deno.test("readHead(): a file that does not start like an audit line costs one small read", async () => {
  await withTempDir(async (dir) => {
    const binary = new Uint8Array(3 * HEAD_BYTES).fill(0x4f);
    await Deno.writeFile(join(dir, "ibdata1"), binary);
    const readOn = (start: Uint8Array) => mayStartAuditLog(start, FORMAT);
    const head = await readHead(join(dir, "ibdata1"), { readOn });
    assertEquals([head.bytes.length, head.longFirstLine], [HEAD_BYTES, false]);
    assertEquals(looksLikeAuditLog(head, FORMAT), false);
    // A first line still being written: not an audit log yet, read on to its end.
    const partial = queryLine(3 * HEAD_BYTES).slice(0, -1);
    await Deno.writeTextFile(join(dir, "live"), partial);
    const live = await readHead(join(dir, "live"), { readOn });
    assertEquals([live.bytes.length, live.longFirstLine], [partial.length, false]);
    assertEquals(looksLikeAuditLog(live, FORMAT), false);
  });
});

Deno.test("mayStartAuditLog() wants a timestamp in the layout and a comma", () => {
  const encode = (text: string) => new TextEncoder().encode(text);
  assert(mayStartAuditLog(encode(`${T},vm`), FORMAT));
  assert(mayStartAuditLog(encode(` ${T} ,vm`), FORMAT));
  assertEquals(mayStartAuditLog(encode(`${T} vm`), FORMAT), false);
  assertEquals(
    mayStartAuditLog(encode("Nov 25 00:08:05 vm mysql-server_auditing:"), FORMAT),
    false,
  );
  const millis = lineFormat(compileLayout("20060102 15:04:05,000"));
  assert(mayStartAuditLog(encode(`${T},123,vm`), millis));
});

Deno.test("looksLikeAuditLog(): the real capture's file with a 12 KB first line is an audit log", async () => {
  const { first_line_bytes: lengths } = readManifest("mariadb-10.11-shapes");
  const [file] = Object.entries(lengths!).find(([, n]) => n > HEAD_BYTES)!;
  const head = await readHead(join(FIXTURES, "mariadb-10.11-shapes", file), {
    readOn: (start) => mayStartAuditLog(start, FORMAT),
  });
  assertEquals(head.bytes.indexOf(10), lengths![file]);
  assert(looksLikeAuditLog(head, FORMAT));
});
