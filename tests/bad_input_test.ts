/**
 * Bad input and a hostile environment: an unreadable log, a read-only
 * database, a full disk, a rotation while a run reads. Each gives one clear
 * line, a documented exit code, and a database as before (or consistently
 * advanced); the oracle is the lines each test wrote, counted by the
 * reference parser.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import {
  AS_UNPRIVILEGED,
  countsByAccount,
  runCli,
  sqlite3,
  withTempDir,
  writeConfig,
} from "./helpers.ts";
import { referenceCounts } from "./reference.ts";
import { runAsBuilt } from "./as_built.ts";
import { hasOpen, inTransaction, stopRunWhen } from "./stopped_run.ts";

const IS_ROOT = Deno.uid() === 0;

/** `n` logins and failures of `users` distinct accounts, from second `at` on. */
function lines(n: number, at = 0, users = 5): string {
  let out = "";
  for (let i = 0; i < n; i++) {
    const s = at + i;
    const ts = new Date(Date.UTC(2026, 10, 25, 6) + s * 1000).toISOString()
      .replace(/^(\d+)-(\d+)-(\d+)T([\d:]+).*/, "$1$2$3 $4");
    const op = i % 5 === 4 ? "FAILED_CONNECT,,,1045" : "CONNECT,,,0";
    out += `${ts},vm,user${(s * 7919) % users},10.1.${i % 3}.9,${s + 10},0,${op}\n`;
    out += `${ts},vm,user${(s * 7919) % users},10.1.${i % 3}.9,${
      s + 10
    },${s},QUERY,,'x,CONNECT,',0\n`;
  }
  return out;
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function setup(dir: string) {
  const logs = join(dir, "logs");
  await Deno.mkdir(logs, { recursive: true });
  const config = await writeConfig(dir, { AuditLogPath: logs });
  return { logs, config, db: join(dir, "audit.sqlite") };
}

/** Sets a file's mtime `secondsAgo` in the past. */
async function age(path: string, secondsAgo: number): Promise<void> {
  const at = new Date(Date.now() - secondsAgo * 1000);
  await Deno.utime(path, at, at);
}

Deno.test({
  name: "bad input: an unreadable log is named, exit 1, the others are read; it is read once fixed",
  ignore: !IS_ROOT,
  fn: async () => {
    await withTempDir(async (dir) => {
      const { logs, config, db } = await setup(dir);
      const old = lines(20), locked = lines(20, 100), live = lines(20, 200);
      await Deno.writeTextFile(join(logs, "server_audit.log.2"), old);
      await Deno.writeTextFile(join(logs, "server_audit.log.1"), locked);
      await Deno.writeTextFile(join(logs, "server_audit.log"), live);
      await age(join(logs, "server_audit.log.2"), 300);
      await age(join(logs, "server_audit.log.1"), 200);
      await age(join(logs, "server_audit.log"), 100);
      await Deno.chmod(join(logs, "server_audit.log.1"), 0o000);
      const r = await runCli(["--config", config], {}, AS_UNPRIVILEGED);
      assertEquals(r.code, 1, r.stderr);
      const errors = r.stderr.trim().split("\n");
      assertEquals(errors.length, 1, r.stderr);
      assert(/level=ERROR .*permission denied/i.test(errors[0]), r.stderr);
      assert(/ file=\S+server_audit\.log\.1( |$)/.test(errors[0]), r.stderr);
      assertEquals(await countsByAccount(db), referenceCounts(old + live));
      await Deno.chmod(join(logs, "server_audit.log.1"), 0o644);
      const again = await runCli(["--config", config], {}, AS_UNPRIVILEGED);
      assertEquals([again.code, again.stderr], [0, ""]);
      assertEquals(await countsByAccount(db), referenceCounts(old + locked + live));
    });
  },
});

Deno.test({
  name: "bad input: a read-only database is named, exit 1, and left as it was",
  ignore: !IS_ROOT,
  fn: async () => {
    await withTempDir(async (dir) => {
      const { logs, config, db } = await setup(dir);
      const first = lines(10);
      await Deno.writeTextFile(join(logs, "server_audit.log"), first);
      assertEquals((await runCli(["--config", config])).code, 0);
      await Deno.writeTextFile(join(logs, "server_audit.log"), lines(10, 50), { append: true });
      const before = await sha256(db);
      await Deno.chmod(db, 0o444);
      await Deno.chmod(dir, 0o555);
      try {
        const r = await runCli(["--config", config], {}, AS_UNPRIVILEGED);
        assertEquals(r.code, 1, r.stderr);
        assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert(/level=ERROR .*file=\S+audit\.sqlite/.test(r.stderr), r.stderr);
      } finally {
        await Deno.chmod(dir, 0o755);
        await Deno.chmod(db, 0o644);
      }
      assertEquals(await sha256(db), before);
      assertEquals(await countsByAccount(db), referenceCounts(first));
    });
  },
});

/** Mounts a small tmpfs at `dir`, or returns false where mounting is not allowed. */
async function mountTmpfs(dir: string, size: string): Promise<boolean> {
  const out = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => ({ code: 1 }));
  return out.code === 0;
}

Deno.test({
  name: "bad input: a full disk fails the run in one line, exit 1, and loses nothing",
  ignore: !IS_ROOT,
  fn: async () => {
    await withTempDir(async (dir) => {
      const { logs } = await setup(dir);
      const disk = join(dir, "disk");
      await Deno.mkdir(disk);
      if (!(await mountTmpfs(disk, "8m"))) {
        console.error("*** SKIPPED the full-disk test: cannot mount a tmpfs here ***");
        return;
      }
      try {
        const config = await writeConfig(dir, {
          AuditLogPath: logs,
          SqlitePath: join(disk, "audit.sqlite"),
        });
        const first = lines(20);
        await Deno.writeTextFile(join(logs, "server_audit.log"), first);
        assertEquals((await runCli(["--config", config])).code, 0);
        const dbOnDisk = join(disk, "audit.sqlite");
        // Thousands of new accounts need more pages than the disk has left.
        const more = lines(6000, 100, 6000);
        await Deno.writeTextFile(join(logs, "server_audit.log"), more, { append: true });
        const filler = join(disk, "filler");
        await Deno.writeFile(filler, new Uint8Array(0));
        const fill = await Deno.open(filler, { write: true });
        try {
          while (true) await fill.write(new Uint8Array(4096));
        } catch {
          // The disk is full.
        } finally {
          fill.close();
        }
        // Under the build task's permissions: telling a full disk takes a statfs.
        const r = await runAsBuilt(["--config", config]);
        assertEquals(r.code, 1, r.stderr);
        assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert(
          /level=ERROR msg="Database disk is full" file=\S+audit\.sqlite$/.test(r.stderr.trim()),
          r.stderr,
        );
        // (Even the sqlite3 shell cannot open a WAL database on a full disk: look once freed.)
        await Deno.remove(filler);
        assertEquals(await sqlite3(dbOnDisk, "PRAGMA integrity_check;"), [["ok"]]);
        assertEquals(await countsByAccount(dbOnDisk), referenceCounts(first));
        const again = await runCli(["--config", config]);
        assertEquals([again.code, again.stderr], [0, ""]);
        assertEquals(await countsByAccount(dbOnDisk), referenceCounts(first + more));
      } finally {
        await new Deno.Command("umount", { args: [disk] }).output();
      }
    });
  },
});

Deno.test("rotation during a run: renamed and replaced while being read, every line counted once", async () => {
  await withTempDir(async (dir) => {
    const { logs, config, db } = await setup(dir);
    const log = join(logs, "server_audit.log");
    let all = "";
    let landed = 0;
    // Each round: a new live file, a run stopped (by its PID) while it has that file open inside
    // its transaction, the rename done then. A run that ends before it can be caught (it read
    // too fast) still counts its lines; its file is renamed after it, and another round is tried.
    for (let round = 0; landed < 4; round++) {
      assert(round < 12, `only ${landed} of ${round} runs could be stopped while reading`);
      const text = lines(40_000, round * 40_000, 500);
      await Deno.writeTextFile(log, text);
      all += text;
      const rotated = join(logs, `server_audit.log.${round + 1}`);
      const result = await stopRunWhen(
        { config, when: (pid) => hasOpen(pid, log) && inTransaction(pid, db) },
        () => Deno.rename(log, rotated),
      );
      assertEquals([result.code, result.stderr], [0, ""]);
      if (result.stopped) landed++;
      else await Deno.rename(log, rotated);
    }
    await Deno.writeTextFile(log, "");
    assertEquals((await runCli(["--config", config])).code, 0);
    assertEquals(await countsByAccount(db), referenceCounts(all));
  });
});

Deno.test("bad input: a database directory that does not exist is named with the reason, exit 1, nothing created", async () => {
  await withTempDir(async (dir) => {
    const { logs } = await setup(dir);
    await Deno.writeTextFile(join(logs, "server_audit.log"), lines(5));
    const missing = join(dir, "no", "such");
    const config = await writeConfig(dir, {
      AuditLogPath: logs,
      SqlitePath: join(missing, "audit.sqlite"),
    });
    const r = await runCli(["--config", config]);
    assertEquals(r.code, 1, r.stderr);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert(
      r.stderr.includes(
        `msg="Database directory \\"${missing}\\" does not exist" file=${missing}/audit.sqlite`,
      ),
      r.stderr,
    );
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["conntracker.ini", "logs"]);
  });
});

Deno.test({
  name: "bad input: a database directory the run cannot write is named with the reason, exit 1",
  ignore: !IS_ROOT,
  fn: async () => {
    await withTempDir(async (dir) => {
      const { logs } = await setup(dir);
      await Deno.writeTextFile(join(logs, "server_audit.log"), lines(5));
      const locked = join(dir, "locked");
      await Deno.mkdir(locked, { mode: 0o555 });
      await Deno.chmod(locked, 0o555);
      const config = await writeConfig(dir, {
        AuditLogPath: logs,
        SqlitePath: join(locked, "audit.sqlite"),
      });
      const r = await runCli(["--config", config], {}, AS_UNPRIVILEGED);
      assertEquals(r.code, 1, r.stderr);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert(
        r.stderr.includes(`Database cannot be created in \\"${locked}\\": permission denied`),
        r.stderr,
      );
      assertEquals([...Deno.readDirSync(locked)], []);
    });
  },
});
