import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { ConfigError, configPath, DEFAULT_CONFIG_PATH, KEYS, parseConfig } from "../lib/config.ts";
import { ROOT, runCli, withTempDir } from "./helpers.ts";

Deno.test("parseConfig() applies the old tool's defaults", () => {
  const c = parseConfig("c.ini", "");
  assertEquals(
    [
      c.auditLogPath,
      c.sqlitePath,
      c.timeFormatAudit.source,
      c.timeFormatDb.source,
      c.timeLocation.name,
      c.maxWorkers,
      c.logLevel,
    ],
    [
      "/var/lib/mysql",
      "/var/lib/mysql/audit.sqlite",
      "20060102 15:04:05",
      "2006-01-02 15:04:05-07:00",
      "Europe/Zurich",
      4,
      "ERROR",
    ],
  );
});

Deno.test("parseConfig() reads keys at the top level and in the old tool's [default] section", () => {
  const top = parseConfig("c.ini", "AuditLogPath = /a\nMaxWorkers = 2\n");
  const section = parseConfig(
    "c.ini",
    "[default]\nAuditLogPath = /a\nMaxWorkers = 2\nTimeFormatAudit = %Y%m%d %H:%i:%s\n",
  );
  assertEquals([top.auditLogPath, top.maxWorkers], ["/a", 2]);
  assertEquals([section.auditLogPath, section.maxWorkers, section.timeFormatAudit.source], [
    "/a",
    2,
    "%Y%m%d %H:%i:%s",
  ]);
});

Deno.test("parseConfig() names the file, key and value of each mistake", () => {
  const cases: [string, RegExp][] = [
    ["Foo = 1", /Unknown key "Foo"/],
    ["[mysqld]\nAuditLogPath=/a", /Unknown section "\[mysqld\]"/],
    ["TimeLocation = Europe/Nowhere", /TimeLocation: Unknown time zone "Europe\/Nowhere"/],
    ["MaxWorkers = many", /MaxWorkers must be a whole number from 1 to 256, got "many"/],
    ["MaxWorkers = 0", /got "0"/],
    ["LogLevel = LOUD", /LogLevel must be one of DEBUG, INFO, WARN, ERROR, got "LOUD"/],
    ["TimeFormatAudit = YYYYMMDD", /TimeFormatAudit: Unknown element/],
    ["AuditLogPath = /a\n[default]\nAuditLogPath = /b", /set twice/],
    ["AuditLogRecursive = maybe", /true or false, got "maybe"/],
  ];
  for (const [text, pattern] of cases) {
    const e = (() => {
      try {
        parseConfig("/etc/x.ini", text);
      } catch (e) {
        return e;
      }
    })();
    assert(e instanceof ConfigError, text);
    assert(pattern.test(e.message), `${e.message} !~ ${pattern}`);
    assertEquals(e.file, "/etc/x.ini");
  }
});

Deno.test("configPath() prefers --config, then $CONNTRACKER_CONFIG, then the default", () => {
  assertEquals(configPath("/a.ini", { CONNTRACKER_CONFIG: "/b.ini" }), "/a.ini");
  assertEquals(configPath(undefined, { CONNTRACKER_CONFIG: "/b.ini" }), "/b.ini");
  assertEquals(configPath(undefined, {}), DEFAULT_CONFIG_PATH);
});

Deno.test("conntracker.ini-dist documents every key with its default, and parses", async () => {
  const text = await Deno.readTextFile(join(ROOT, "conntracker.ini-dist"));
  for (const [key, { default: value }] of Object.entries(KEYS)) {
    assert(text.includes(`${key} = ${value}`) || text.includes(`; ${key} = ${value}`), key);
  }
  parseConfig("conntracker.ini-dist", text);
});

Deno.test("conntracker.ini-dist sets TimeLocation explicitly and says how to find the server's zone", async () => {
  const text = await Deno.readTextFile(join(ROOT, "conntracker.ini-dist"));
  const set = text.split("\n").filter((l) => /^TimeLocation\s*=/.test(l));
  assertEquals(set, ["TimeLocation = Local"]);
  for (const hint of ["SELECT @@system_time_zone", "timedatectl"]) assert(text.includes(hint));
});

Deno.test("CLI: a missing or invalid config is one stderr line and exit code 2", async () => {
  await withTempDir(async (dir) => {
    const missing = await runCli(["--config", join(dir, "nope.ini")]);
    assertEquals(missing.code, 2);
    assertEquals(missing.stderr.trim().split("\n").length, 1);
    assert(
      missing.stderr.includes("Config file not found") && missing.stderr.includes("nope.ini"),
      missing.stderr,
    );
    await Deno.writeTextFile(join(dir, "bad.ini"), "MaxWorkers = lots\n");
    const bad = await runCli([], { CONNTRACKER_CONFIG: join(dir, "bad.ini") });
    assertEquals(bad.code, 2);
    assert(/key=MaxWorkers/.test(bad.stderr) && /bad\.ini/.test(bad.stderr), bad.stderr);
    assert(!bad.stderr.includes("    at "), "no stack trace");
  });
});

Deno.test("CLI: version, --version, --help and unknown options", async () => {
  const version = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).version;
  assertEquals((await runCli(["version"])).stdout, `conntracker version ${version}\n`);
  assertEquals((await runCli(["--version"])).stdout, `conntracker version ${version}\n`);
  const help = await runCli(["run", "--help"]);
  assertEquals(help.code, 0);
  assert(help.stdout.includes("Usage: conntracker run"));
  assertEquals((await runCli(["--bogus"])).code, 2);
});
