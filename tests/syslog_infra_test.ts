/**
 * The real parts that syslog and journal tests stand on: a real server's
 * `syslog()` calls reaching the tests' own rsyslogd (both file formats) and
 * journald, logrotate rotating rsyslog's files, and journal files made from
 * chosen entries, read back with journalctl and its cursors. Expected values
 * come from the tests' own ledger and clock, and from `Intl` for wall times.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { withTempDir } from "./helpers.ts";
import { real } from "./real.ts";
import {
  appendJournal,
  type JournalEntry,
  type JournalRecord,
  PLUGIN_IDENT,
  readJournal,
  withJournald,
} from "./journal.ts";
import { type Attempt, login, type MariaDb, rootSql, withMariaDb } from "./mariadb.ts";
import {
  devLogWrap,
  logger,
  logrotate,
  type SyslogFormat,
  waitFor,
  waitForLines,
  withRsyslog,
} from "./rsyslog.ts";

const ZONE = "Europe/Zurich";
const HOST = Deno.hostname().split(".")[0];

/** A line of an rsyslog file: its stamp, host, tag and message (after one space). */
interface SyslogLine {
  stamp: string;
  host: string;
  tag: string;
  message: string;
}

const LINE: Record<SyslogFormat, RegExp> = {
  rfc3339: /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d) (\S+) ([^\s:]+): (.*)$/,
  traditional: /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) (\S+) ([^\s:]+): (.*)$/,
};

function parseLine(format: SyslogFormat, line: string): SyslogLine {
  const m = LINE[format].exec(line);
  assert(m, `not a ${format} line: ${line}`);
  return { stamp: m[1], host: m[2], tag: m[3], message: m[4] };
}

/** The zone's offset at `ms` as `+01:00`, from `Intl`. */
function offsetAt(ms: number): string {
  const name = new Intl.DateTimeFormat("en-US", { timeZone: ZONE, timeZoneName: "longOffset" })
    .formatToParts(ms).find((p) => p.type === "timeZoneName")!.value;
  return name === "GMT" ? "+00:00" : name.slice(3);
}

/** The traditional stamp (`Dec  1 19:04:14`) of `ms` in the zone, from `Intl`. */
function traditionalAt(ms: number): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: ZONE,
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    }).formatToParts(ms).map((p) => [p.type, p.value]),
  );
  return `${parts.month} ${parts.day.padStart(2)} ${parts.hour}:${parts.minute}:${parts.second}`;
}

/**
 * How long after a login attempt its line may be sent and stamped: the server
 * answers a refused client before it logs, and a busy daemon reads late.
 */
const LATE_MS = 2000;

/** Asserts that a stamp was taken between `before` and `after` (epoch ms) of an attempt. */
function assertStamped(format: SyslogFormat, stamp: string, before: number, after: number): void {
  const late = after + LATE_MS;
  if (format === "rfc3339") {
    const at = Date.parse(stamp);
    assert(at >= before - 1 && at <= late, `${stamp} not within [${before}, ${late}]`);
    assertEquals(stamp.slice(-6), offsetAt(at), `offset of ${stamp}`);
    return;
  }
  const seconds = [];
  for (let s = Math.floor(before / 1000); s <= Math.floor(late / 1000); s++) {
    seconds.push(traditionalAt(s * 1000));
  }
  assert(seconds.includes(stamp), `${stamp} not one of ${seconds.join(", ")}`);
}

real("rsyslogd: another program's line reaches its file in both formats", ["rsyslog"], async () => {
  await withRsyslog({ timeZone: ZONE }, async (r) => {
    const text = `hello ${crypto.randomUUID()}`;
    const before = Date.now();
    await logger(r.socket, "other", text);
    const after = Date.now();
    for (const format of ["rfc3339", "traditional"] as const) {
      const lines = await waitForLines(r.files[format]!, (ls) => ls.some((l) => l.endsWith(text)));
      assertEquals(lines.length, 1, `${format}: ${lines.join("\n")}`);
      const line = parseLine(format, lines[0]);
      assertEquals([line.host, line.tag, line.message], [HOST, "other", text]);
      assertStamped(format, line.stamp, before, after);
    }
  });
});

/** The plugin's fields (`serverhost,user,host,id,qid,op,...`) of a message. */
function fieldsOf(message: string): string[] {
  return message.trim().split(",");
}

/** A connection event of the plugin. */
interface Connection {
  user: string;
  host: string;
  ok: boolean;
}

function connectionOf(message: string): Connection | undefined {
  const f = fieldsOf(message);
  if (f[5] !== "CONNECT" && f[5] !== "FAILED_CONNECT") return undefined;
  return { user: f[1], host: f[2], ok: f[5] === "CONNECT" };
}

/** The connection events of messages, in order, without root's (the test's own administration). */
function connectionsOf(messages: string[]): Connection[] {
  return messages.map(connectionOf).filter((c) =>
    c !== undefined && c.user !== "root"
  ) as Connection[];
}

/** Whether every attempt's connection has been logged as closed (each logs one DISCONNECT). */
function allClosed(messages: string[], attempts: Attempt[]): boolean {
  const closed = messages.filter((m) => {
    const f = fieldsOf(m);
    return f[5] === "DISCONNECT" && f[1] !== "root";
  });
  return closed.length >= attempts.length;
}

const ACCOUNTS = `
  CREATE USER 'app'@'%' IDENTIFIED BY 'pw-app';
  CREATE USER 'carol'@'localhost' IDENTIFIED BY 'pw-carol';
`;

/** Logins, with another program's line in the middle, for a server that logs to syslog. */
async function playLogins(server: MariaDb, other: () => Promise<void>): Promise<Attempt[]> {
  await rootSql(server, ACCOUNTS);
  const attempts: Attempt[] = [];
  await login(server, attempts, "app", "pw-app", "tcp");
  await login(server, attempts, "carol", "pw-carol", "socket");
  await other();
  await login(server, attempts, "app", "wrong", "tcp");
  await login(server, attempts, "mallory", "nope", "tcp2");
  await login(server, attempts, "app", "pw-app", "tcp2");
  return attempts;
}

/** The attempts as the plugin should log them, in order. */
function ledgerOf(attempts: Attempt[]): Connection[] {
  return attempts.map((a) => ({ user: a.user, host: a.host, ok: a.ok }));
}

/** The first message that logs the attempt. */
function findAttempt<T>(items: T[], message: (item: T) => string, a: Attempt): T {
  const found = items.find((item) => {
    const c = connectionOf(message(item));
    return c?.user === a.user && c.host === a.host && c.ok === a.ok;
  });
  assert(found !== undefined, `no line for ${a.user}@${a.host}`);
  return found;
}

real(
  "rsyslogd: a real server's audit lines reach both files, mixed with another program's",
  ["mariadb", "rsyslog"],
  async () => {
    await withRsyslog({ timeZone: ZONE }, async (r) => {
      await withTempDir(async (ns) => {
        const wrap = await devLogWrap(r.socket, ns);
        const mark = `between logins ${crypto.randomUUID()}`;
        await withMariaDb({ events: "CONNECT", outputType: "syslog", wrap }, async (server) => {
          const attempts = await playLogins(server, () => logger(r.socket, "other", mark));
          const messages: Record<string, string[]> = {};
          for (const format of ["rfc3339", "traditional"] as const) {
            const lines = (await waitForLines(r.files[format]!, (ls) =>
              allClosed(
                ls.map((l) => parseLine(format, l).message),
                attempts,
              )))
              .map((l) => parseLine(format, l));
            const audit = lines.filter((l) => l.tag === PLUGIN_IDENT);
            assertEquals(connectionsOf(audit.map((l) => l.message)), ledgerOf(attempts), format);
            // Two spaces after the ident: one of them is the empty server_audit_syslog_info's.
            assert(audit.every((l) => l.message.startsWith(` ${HOST},`)), format);
            const i = lines.findIndex((l) => l.tag === "other" && l.message === mark);
            assert(i > 0, `${format}: the other program's line`);
            // It came after carol's login and before mallory's attempt.
            const earlier = connectionsOf(lines.slice(0, i).map((l) => l.message)).map((c) =>
              c.user
            );
            assertEquals(earlier, ["app", "carol"], format);
            for (const a of attempts) {
              assertStamped(
                format,
                findAttempt(audit, (l) => l.message, a).stamp,
                a.before,
                a.after,
              );
            }
            messages[format] = lines.map((l) => `${l.host} ${l.tag}: ${l.message}`);
          }
          assertEquals(messages.rfc3339, messages.traditional);
        });
      });
    });
  },
);

async function lines(file: string): Promise<string[]> {
  const bytes = await Deno.readFile(file);
  const text = new TextDecoder().decode(file.endsWith(".gz") ? gunzipSync(bytes) : bytes);
  return text.split("\n").filter((l) => l !== "");
}

real(
  "logrotate: create with a postrotate HUP, and copytruncate, rotate rsyslog's files between writes",
  ["rsyslog", "logrotate"],
  async () => {
    await withRsyslog({ timeZone: ZONE }, async (r) => {
      const rfc = r.files.rfc3339!;
      const trad = r.files.traditional!;
      const write = async (batch: string) => {
        for (let i = 1; i <= 3; i++) await logger(r.socket, "other", `${batch}${i}`);
        for (const f of [rfc, trad]) {
          await waitForLines(f, (ls) => ls.some((l) => l.endsWith(` other: ${batch}3`)));
        }
      };
      const messages = async (file: string, format: SyslogFormat) =>
        (await lines(file)).map((l) => parseLine(format, l).message);
      // Debian's rsyslog setup: create, HUP, compress with delaycompress.
      const debian = { method: "create", compress: true, delaycompress: true } as const;

      await write("A");
      await logrotate(r, rfc, debian);
      await logrotate(r, trad, { method: "copytruncate" });
      await write("B");
      assertEquals(await messages(`${rfc}.1`, "rfc3339"), ["A1", "A2", "A3"]);
      assertEquals(await messages(rfc, "rfc3339"), ["B1", "B2", "B3"]);
      assertEquals(await messages(`${trad}.1`, "traditional"), ["A1", "A2", "A3"]);
      // The writer appends (O_APPEND): no hole of NUL bytes where the old content was.
      assertEquals(await messages(trad, "traditional"), ["B1", "B2", "B3"]);
      assertEquals((await Deno.stat(rfc)).mode! & 0o777, 0o640);

      await logrotate(r, rfc, debian);
      await write("C");
      assertEquals(await messages(`${rfc}.2.gz`, "rfc3339"), ["A1", "A2", "A3"]);
      assertEquals(await messages(`${rfc}.1`, "rfc3339"), ["B1", "B2", "B3"]);
      assertEquals(await messages(rfc, "rfc3339"), ["C1", "C2", "C3"]);
      assertEquals((await Array.fromAsync(Deno.readDir(join(r.dir, "rfc3339")))).length, 3);

      // A rename and a HUP by hand (what Debian's /usr/lib/rsyslog/rsyslog-rotate sends).
      await Deno.rename(trad, `${trad}.moved`);
      await r.hup();
      await write("D");
      assertEquals(await messages(`${trad}.moved`, "traditional"), [
        "B1",
        "B2",
        "B3",
        "C1",
        "C2",
        "C3",
      ]);
      assertEquals(await messages(trad, "traditional"), ["D1", "D2", "D3"]);
    });
  },
);

const CURSOR = /^s=[0-9a-f]{32};i=[0-9a-f]+;b=[0-9a-f]{32};m=[0-9a-f]+;t=[0-9a-f]+;x=[0-9a-f]+$/;

/** The part of a cursor that names the file's sequence (`s=`) and the entry's number in it (`i=`). */
function sequenceOf(cursor: unknown): [string, number] {
  assert(typeof cursor === "string" && CURSOR.test(cursor), `cursor ${cursor}`);
  const [s, i] = cursor.split(";");
  return [s.slice(2), parseInt(i.slice(2), 16)];
}

real(
  "journal: entries written by systemd-journal-remote, appended to, read back with cursors",
  ["journalRemote"],
  async () => {
    await withTempDir(async (dir) => {
      const file = join(dir, "audit.journal");
      // Across the last New Year in Zurich, to the microsecond (never later than the clock:
      // systemd-journal-remote would not append to a file "from the future").
      const year = new Date().getUTCFullYear();
      const t0 = Date.parse(`${year}-01-01T00:00:00+01:00`) * 1000 - 749_877;
      const entry = (i: number, message: string): JournalEntry => ({
        message,
        sentUs: t0 + i * 500_000,
        fields: { _PID: "4242" },
      });
      const first = [
        entry(0, " vm,app,127.0.0.1,7,0,CONNECT,,,0"),
        { message: "hello", sentUs: t0 + 1, identifier: "other" },
        entry(1, " vm,zoë,localhost,8,0,FAILED_CONNECT,,,1045"),
        entry(2, ` vm,app,127.0.0.1,7,1,QUERY,,'SELECT "${"x".repeat(5000)}"',0`),
      ];
      await appendJournal(file, first);
      const all = await readJournal({ file });
      const plugin = first.filter((e) => e.identifier === undefined);
      const compare = (got: JournalRecord[], want: JournalEntry[]) =>
        assertEquals(
          got.map((e) => [e.MESSAGE, e._SOURCE_REALTIME_TIMESTAMP, e.SYSLOG_IDENTIFIER, e._PID]),
          want.map((e) => [e.message, String(e.sentUs), PLUGIN_IDENT, "4242"]),
        );
      compare(all, plugin);
      const [seq] = sequenceOf(all[0].__CURSOR);
      assertEquals(all.map((e) => sequenceOf(e.__CURSOR)), [[seq, 1], [seq, 3], [seq, 4]]);
      assertEquals((await readJournal({ file, matches: [] })).length, 4);

      compare(await readJournal({ file, afterCursor: all[0].__CURSOR as string }), plugin.slice(1));
      assertEquals(await readJournal({ file, afterCursor: all[2].__CURSOR as string }), []);

      // A second run appends to the same file: the same sequence, numbered on.
      const second = [
        entry(3, " vm,app,127.0.0.1,9,0,CONNECT,,,0"),
        entry(4, " vm,a\nb,x,1,0,X,,,0"),
      ];
      await appendJournal(file, second);
      const more = await readJournal({ file, afterCursor: all[2].__CURSOR as string });
      compare(more, second);
      assertEquals(more.map((e) => sequenceOf(e.__CURSOR)), [[seq, 5], [seq, 6]]);
    });
  },
);

real(
  "journald: a real server's audit entries, read across a rotation; a cursor whose entry is gone",
  ["mariadb", "journald"],
  async () => {
    await withJournald(async (j) => {
      await withTempDir(async (ns) => {
        const wrap = await devLogWrap(j.devLog, ns);
        const mark = `between logins ${crypto.randomUUID()}`;
        await withMariaDb({ events: "CONNECT", outputType: "syslog", wrap }, async (server) => {
          const attempts = await playLogins(server, () => logger(j.devLog, "other", mark));
          const read = (options: { cursor?: string; afterCursor?: string } = {}) =>
            readJournal({ directory: j.directory, ...options });
          const messages = (entries: JournalRecord[]) => entries.map((e) => e.MESSAGE as string);
          let entries: JournalRecord[] = [];
          await waitFor(
            async () => allClosed(messages(entries = await read()), attempts),
            "entries",
          );
          assertEquals(connectionsOf(messages(entries)), ledgerOf(attempts));
          for (const e of entries) {
            // One space after the ident's colon is gone: the other stays.
            assert((e.MESSAGE as string).startsWith(` ${HOST},`), `${e.MESSAGE}`);
            assertEquals([e._COMM, e._TRANSPORT, e.SYSLOG_FACILITY], ["mariadbd", "syslog", "1"]);
          }
          for (const a of attempts) {
            const e = findAttempt(entries, (e) => e.MESSAGE as string, a);
            const sentMs = Number(e._SOURCE_REALTIME_TIMESTAMP) / 1000;
            assert(sentMs >= a.before && sentMs <= a.after + LATE_MS, `${e.MESSAGE} at ${sentMs}`);
          }
          const others = await readJournal({
            directory: j.directory,
            matches: ["SYSLOG_IDENTIFIER=other"],
          });
          assertEquals(messages(others), [mark]);

          // Across a rotation: the archived file and the new one read as one journal.
          const seen = entries.at(-1)!.__CURSOR as string;
          await j.rotate();
          const later: Attempt[] = [];
          await login(server, later, "carol", "pw-carol", "socket");
          await login(server, later, "app", "pw-app", "tcp");
          let after: JournalRecord[] = [];
          await waitFor(
            async () => allClosed(messages(after = await read({ afterCursor: seen })), later),
            "later entries",
          );
          assertEquals(connectionsOf(messages(after)), ledgerOf(later));
          assertEquals(messages(after).length, 4);

          // With the archive gone (vacuumed), --after-cursor silently skips the first entry
          // left, and --cursor starts at it.
          for (const f of j.archived()) await Deno.remove(f);
          assertEquals(messages(await read({ cursor: seen })), messages(after));
          assertEquals(messages(await read({ afterCursor: seen })), messages(after).slice(1));
        });
      });
    });
  },
);
