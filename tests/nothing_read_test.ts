/**
 * Runs that read nothing say so: a path that does not exist (exit 1), an
 * `AuditLogFile` typo, a directory without an audit log, a syslog-format
 * file (one ERROR line, the first run and again once a day while it lasts).
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { copyAuditFiles, FIXTURES, runCli, sqlite3, withTempDir, writeConfig } from "./helpers.ts";

Deno.test("nothing read: an AuditLogPath that does not exist is exit 1, in one line naming it", async () => {
  await withTempDir(async (dir) => {
    for (const path of [join(dir, "nope"), join(dir, "nope", "server_audit.log*")]) {
      const config = await writeConfig(dir, { AuditLogPath: path });
      const r = await runCli(["--config", config]);
      assertEquals(r.code, 1, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assertEquals(lines.length, 1, r.stderr);
      assert(lines[0].includes('msg="AuditLogPath does not exist"'), r.stderr);
      assert(
        lines[0].includes(`file=${JSON.stringify(path)}`) || lines[0].includes(`file=${path}`),
      );
    }
  });
});

Deno.test("nothing read: an AuditLogFile typo is said at the default LogLevel, once a day while it lasts, and forgotten once fixed", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "logs"));
    await copyAuditFiles("mariadb-10.11", ["server_audit.log"], join(dir, "logs"));
    const config = await writeConfig(dir, {
      AuditLogPath: join(dir, "logs"),
      AuditLogFile: "server_audti.log",
    });
    const db = join(dir, "audit.sqlite");
    const first = await runCli(["--config", config]);
    assertEquals(first.code, 0, first.stderr);
    const lines = first.stderr.trim().split("\n");
    assertEquals(lines.length, 1, first.stderr);
    assert(
      /level=ERROR msg="No file in AuditLogPath: nothing was read" path=\S+logs name=server_audti\.log files=0$/
        .test(lines[0]),
      first.stderr,
    );
    // The next run, within the day: silent.
    const second = await runCli(["--config", config]);
    assertEquals([second.code, second.stderr], [0, ""]);
    // A day later (the note in the database says when it was said): said again, with since.
    const [[firstMs]] = await sqlite3(db, "SELECT first_ms FROM notices;");
    const edit = new DatabaseSync(db);
    edit.exec("UPDATE notices SET said_ms = said_ms - 86400000");
    edit.close();
    const third = await runCli(["--config", config]);
    assertEquals(third.code, 0);
    assert(
      third.stderr.includes(`since=${new Date(Number(firstMs)).toISOString()}`),
      third.stderr,
    );
    // Fixed: read, and the note is gone.
    await Deno.writeTextFile(config, "AuditLogFile = server_audit.log\n", { append: true });
    const fixed = await runCli(["--config", config]);
    assertEquals([fixed.code, fixed.stderr], [0, ""]);
    assertEquals(await sqlite3(db, "SELECT count(*) FROM notices;"), [["0"]]);
    assert(Number((await sqlite3(db, "SELECT count(*) FROM activity;"))[0][0]) > 0);
  });
});

Deno.test("nothing read: a directory without an audit log names why each file was passed over", async () => {
  await withTempDir(async (dir) => {
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    await Deno.copyFile(
      join(FIXTURES, "mariadb-10.11-syslog", "syslog-rfc3339.log"),
      join(logs, "audit.log"),
    );
    await Deno.writeFile(join(logs, "empty.log"), new Uint8Array());
    await Deno.writeTextFile(join(logs, "vm.err"), "2026-11-24 23:52:24 0 [Note] Starting\n");
    await Deno.writeTextFile(join(logs, "half.log"), "20261124 23:52:24,vm,root,local");
    const config = await writeConfig(dir, { AuditLogPath: logs });
    const r = await runCli(["--config", config]);
    assertEquals(r.code, 0, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, r.stderr);
    const line = lines[0];
    assert(line.includes('msg="No audit log in AuditLogPath: nothing was read"'), line);
    assert(line.includes(" files=4 "), line);
    assert(line.includes(" looks_like_syslog_output=audit.log"), line);
    assert(line.includes(" empty=empty.log"), line);
    assert(line.includes(" not_an_audit_log=vm.err"), line);
    assert(line.includes(" no_complete_first_line=half.log"), line);
  });
});
