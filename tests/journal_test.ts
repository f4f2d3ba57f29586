/**
 * `AuditSource = journal`: the plugin's entries read with the real
 * `journalctl` from journal files the tests write with the real
 * `systemd-journal-remote` (entries of their choosing, appended between
 * runs), and from a real journald fed by a real server. Expected counts and
 * times come from the tests' own ledger of the entries they wrote, or of the
 * logins they made.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { compareActivity } from "./attempts.ts";
import {
  activity,
  type Counted,
  prng,
  ROOT,
  runCli,
  sqlite3,
  withTempDir,
  writeConfig,
} from "./helpers.ts";
import { appendJournal, type JournalEntry, PLUGIN_IDENT, withJournald } from "./journal.ts";
import { type Attempt, login, rootSql, withMariaDb } from "./mariadb.ts";
import { real } from "./real.ts";
import { devLogWrap, logger, waitFor } from "./rsyslog.ts";

/** What the test wrote, per `user@host`: the simple oracle. */
class Ledger {
  counts = new Map<string, Counted>();
  entries: JournalEntry[] = [];
  /** Entries of one second each, from a day ago (never "from the future" for the journal). */
  #us = (Date.now() - 86_400_000) * 1000;
  #conn = 100;

  /** A login (or a failed one) of `user@host`. */
  login(user: string, host: string, ok: boolean): void {
    const sentUs = this.#next();
    const id = this.#conn++;
    const op = ok ? "CONNECT,,,0" : "FAILED_CONNECT,,,1045";
    this.entries.push({ message: ` vm,${user},${host},${id},0,${op}`, sentUs });
    const key = `${user}@${host}`;
    const c = this.counts.get(key) ?? { logins: 0, failed: 0 };
    const ms = Math.floor(sentUs / 1000);
    if (ok) c.logins++, c.lastLogin = ms;
    else c.failed++, c.lastFailed = ms;
    this.counts.set(key, c);
  }

  /**
   * A successful change-user to `user@host` (logged with an empty user, as
   * 10.11 does), counted at its own time; returns the entry that names it
   * (the connection's next line), for the test to write when it likes.
   */
  changeUser(user: string, host: string): JournalEntry {
    const sentUs = this.#next();
    const id = this.#conn++;
    this.entries.push({ message: ` vm,,,${id},0,CHANGEUSER,OOOO,,0`, sentUs });
    const key = `${user}@${host}`;
    const c = this.counts.get(key) ?? { logins: 0, failed: 0 };
    c.logins++, c.lastLogin = Math.floor(sentUs / 1000);
    this.counts.set(key, c);
    return { message: ` vm,${user},${host},${id},7,QUERY,,'SELECT 1',0`, sentUs: this.#next() };
  }

  /** An entry that is not a login: another program's, or the plugin's query. */
  other(message: string, identifier?: string): void {
    this.entries.push({ message, sentUs: this.#next(), identifier });
  }

  /** The entries written since the last call. */
  take(): JournalEntry[] {
    const out = this.entries;
    this.entries = [];
    return out;
  }

  #next(): number {
    this.#us += 1_000_000 + 123;
    return this.#us;
  }
}

function journalConfig(dir: string, keys: Record<string, string>): Promise<string> {
  return writeConfig(dir, { AuditSource: "journal", AuditLogPath: join(dir, "none"), ...keys });
}

real("journal: the plugin's entries, read run by run from the cursor, counted once", [
  "journalRemote",
], async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "audit.journal");
    const config = await journalConfig(dir, { JournalFile: file });
    const db = join(dir, "audit.sqlite");
    const ledger = new Ledger();
    ledger.login("app", "localhost", true);
    ledger.other("hello from another program", "other");
    ledger.other(" vm,mallory,127.0.0.1,99,0,CONNECT,,,0", "other");
    ledger.login("bob", "127.0.0.1", false);
    ledger.other(" vm,app,localhost,100,5,QUERY,shop,'SELECT \\'x,CONNECT,y\\'',0");
    await appendJournal(file, ledger.take());
    const first = await runCli(["--config", config]);
    assertEquals([first.code, first.stdout, first.stderr], [0, "", ""]);
    assertEquals(await activity(db), ledger.counts);
    const cursor = await sqlite3(db, "SELECT source, cursor FROM journal_cursors");
    assertEquals(cursor.length, 1);
    assertEquals(cursor[0][0], file);
    // Nothing new: nothing changes but a runs row.
    assertEquals((await runCli(["--config", config])).code, 0);
    assertEquals(await activity(db), ledger.counts);
    assertEquals(await sqlite3(db, "SELECT cursor FROM journal_cursors"), [[cursor[0][1]]]);
    // More, with a bad entry of the plugin's ident and a change-user named by its next entry.
    ledger.login("app", "localhost", true);
    ledger.other(" vm,1,2,CONNECT,x");
    const naming = ledger.changeUser("carol", "localhost");
    await appendJournal(file, ledger.take());
    assertEquals((await runCli(["--config", config])).code, 0);
    // The change-user waits, in the database, for the entry that names it.
    assertEquals((await activity(db)).has("carol@localhost"), false);
    assertEquals(await sqlite3(db, "SELECT count(*) FROM pending_change_user"), [["1"]]);
    await appendJournal(file, [naming]);
    const third = await runCli(["--config", config]);
    assertEquals([third.code, third.stderr], [0, ""]);
    assertEquals(await activity(db), ledger.counts);
    assertEquals(await sqlite3(db, "SELECT sum(malformed) FROM runs"), [["1"]]);
    // The report counts a journal run as a read of the audit log: no account is unknown.
    const accounts = join(dir, "accounts.tsv");
    await Deno.writeTextFile(accounts, "app\tlocalhost\nzed\t%\n");
    const report = await runCli([
      "--config",
      config,
      "report",
      "--format",
      "json",
      "--accounts",
      accounts,
    ]);
    assertEquals([report.code, report.stderr], [0, ""]);
    const rows = JSON.parse(report.stdout).accounts as { name: string; status: string }[];
    assertEquals(rows.map((r) => [r.name, r.status]).sort(), [["app", "used"], [
      "zed",
      "never-seen",
    ]]);
  });
});

/** Entries appended while runs are killed with SIGKILL. */
const KILLS = 30;

real(`journal: ${KILLS} SIGKILLs during runs on a growing journal lose and double nothing`, [
  "journalRemote",
], async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "audit.journal");
    const config = await journalConfig(dir, { JournalFile: file });
    const db = join(dir, "audit.sqlite");
    const ledger = new Ledger();
    const random = prng(4242);
    const cli = ["run", "--allow-all", "--quiet", join(ROOT, "main.ts"), "--config", config];
    let killed = 0;
    let k = 0;
    for (; killed < KILLS && k < 300; k++) {
      const n = 20 + Math.floor(random() * 200);
      for (let i = 0; i < n; i++) {
        const u = Math.floor(random() * 23);
        if (random() < 0.3) ledger.other(` vm,u${u},10.2.0.${u % 4},${i},9,QUERY,,'SELECT 1',0`);
        else ledger.login(`u${u}`, `10.2.0.${u % 4}`, random() > 0.2);
      }
      await appendJournal(file, ledger.take());
      const child = new Deno.Command(Deno.execPath(), {
        args: cli,
        stdout: "null",
        stderr: "null",
      }).spawn();
      await new Promise((r) => setTimeout(r, 20 + random() * 200));
      try {
        child.kill("SIGKILL");
      } catch {
        // It finished first.
      }
      if ((await child.status).signal === "SIGKILL") killed++;
    }
    assert(killed >= KILLS, `only ${killed} of ${k} runs were killed`);
    const clean = await new Deno.Command(Deno.execPath(), { args: cli }).output();
    assertEquals(clean.code, 0, new TextDecoder().decode(clean.stderr));
    assertEquals(await activity(db), ledger.counts);
  });
});

real("journal: a cursor whose entry is gone with entries lost after it is a loss (exit 3)", [
  "journalRemote",
], async () => {
  await withTempDir(async (dir) => {
    const config = await journalConfig(dir, { JournalFile: join(dir, "*.journal") });
    const db = join(dir, "audit.sqlite");
    const ledger = new Ledger();
    ledger.login("app", "localhost", true);
    await appendJournal(join(dir, "a.journal"), ledger.take());
    assertEquals((await runCli(["--config", config])).code, 0);
    // Vacuumed: the file with the cursor's entry is gone, and a new one holds later entries.
    await Deno.remove(join(dir, "a.journal"));
    ledger.login("bob", "localhost", true);
    await appendJournal(join(dir, "b.journal"), ledger.take());
    const lost = await runCli(["--config", config]);
    assertEquals(lost.code, 3, lost.stderr);
    assertEquals(lost.stderr.trim().split("\n").length, 1);
    assert(lost.stderr.includes("journal entries may be lost"), lost.stderr);
    assertEquals(await sqlite3(db, "SELECT path, fingerprint FROM losses"), [[
      join(dir, "*.journal"),
      "journal",
    ]]);
    // What is there was read, once; the next run reads on.
    assertEquals(await activity(db), ledger.counts);
    ledger.login("bob", "localhost", false);
    await appendJournal(join(dir, "b.journal"), ledger.take());
    assertEquals((await runCli(["--config", config])).code, 0);
    assertEquals(await activity(db), ledger.counts);
  });
});

Deno.test("journal: a journalctl that cannot run is one stderr line, exit 1, the database as before", async () => {
  await withTempDir(async (dir) => {
    const missing = join(dir, "no-journalctl");
    const config = await journalConfig(dir, {
      JournalctlPath: missing,
      JournalDirectory: dir,
    });
    const run = await runCli(["--config", config]);
    assertEquals(run.code, 1);
    assertEquals(run.stderr.trim().split("\n").length, 1);
    assert(run.stderr.includes(missing) && run.stderr.includes("cannot be run"), run.stderr);
    const db = join(dir, "audit.sqlite");
    assertEquals(await sqlite3(db, "SELECT count(*) FROM journal_cursors"), [["0"]]);
    assertEquals(await sqlite3(db, "SELECT count(*) FROM activity"), [["0"]]);
  });
});

Deno.test("journal: a user who sees only its own journal is told so (exit 1), not a silent nothing", async () => {
  await withTempDir(async (dir) => {
    // What journalctl 252 says, and does, for a user outside systemd-journal and adm (a
    // stand-in: the hint needs a system journal, which the test machine may not have).
    const fake = join(dir, "journalctl");
    await Deno.writeTextFile(
      fake,
      "#!/bin/sh\necho 'Hint: You are currently not seeing messages from other users and the " +
        "system.' >&2\nexit 0\n",
    );
    await Deno.chmod(fake, 0o755);
    const config = await journalConfig(dir, { JournalctlPath: fake });
    const run = await runCli(["--config", config]);
    assertEquals(run.code, 1);
    assertEquals(run.stderr.trim().split("\n").length, 1);
    assert(run.stderr.includes("systemd-journal or adm"), run.stderr);
  });
});

real(
  "journald: a real server's entries through a real journald, read across a rotation",
  ["mariadb", "journald"],
  async () => {
    await withJournald(async (j) => {
      await withTempDir(async (ns) => {
        const wrap = await devLogWrap(j.devLog, ns);
        await withMariaDb({ events: "CONNECT", outputType: "syslog", wrap }, async (server) => {
          await rootSql(server, "CREATE USER 'app'@'%' IDENTIFIED BY 'pw-app';");
          const config = await journalConfig(ns, { JournalDirectory: j.directory });
          const db = join(ns, "audit.sqlite");
          const attempts: Attempt[] = [];
          let marks = 0;
          // Runs conntracker once journald holds the entries logged before a mark.
          const run = async () => {
            const mark = `mark ${++marks}`;
            await logger(j.devLog, PLUGIN_IDENT, ` vm,mark,${mark}`);
            await waitFor(async () => {
              const out = await new Deno.Command("journalctl", {
                args: [
                  "--directory",
                  j.directory,
                  "-o",
                  "cat",
                  `SYSLOG_IDENTIFIER=${PLUGIN_IDENT}`,
                ],
                stdout: "piped",
              }).output();
              return new TextDecoder().decode(out.stdout).includes(mark);
            }, "the mark in the journal");
            const out = await runCli(["--config", config]);
            assertEquals([out.code, out.stderr], [0, ""]);
          };
          await login(server, attempts, "app", "pw-app", "socket");
          await login(server, attempts, "nobody", "x", "tcp");
          await run();
          await j.rotate();
          await login(server, attempts, "app", "pw-app", "tcp");
          await login(server, attempts, "app", "wrong", "socket");
          await run();
          await run();
          // journald stamps an entry when the server sends it, after the client was answered.
          await compareActivity(db, attempts.map((a) => ({ ...a, after: a.after + 2000 })));
        });
      });
    });
  },
);
