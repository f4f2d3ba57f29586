import {
  deepStrictEqual as assertEquals,
  ok as assert,
  rejects as assertRejects,
  throws as assertThrows,
} from "node:assert";
import { join } from "node:path";
import { ConfigError, parseConfig } from "../lib/config.ts";
import { CENTRAL_KEYS, parseCentralSection } from "../lib/push/config.ts";
import { ROOT, runCli, withTempDir } from "./helpers.ts";

Deno.test("parseConfig() reads [central]: hosts in order, defaults, and no section at all", () => {
  const c = parseConfig(
    "c.ini",
    "[default]\nSqlitePath = /x.sqlite\n[central]\n" +
      "Hosts = db1:3307, [::1]:3308 ,db3, /run/mysqld/mysqld.sock\nPasswordFile = /etc/pw\n",
  );
  assertEquals(c.sqlitePath, "/x.sqlite");
  assertEquals(c.central?.hosts, [
    { kind: "tcp", host: "db1", port: 3307, text: "db1:3307" },
    { kind: "tcp", host: "::1", port: 3308, text: "[::1]:3308" },
    { kind: "tcp", host: "db3", port: 3306, text: "db3" },
    { kind: "socket", path: "/run/mysqld/mysqld.sock", text: "/run/mysqld/mysqld.sock" },
  ]);
  assertEquals(
    [c.central?.database, c.central?.user, c.central?.passwordFile, c.central?.serverId],
    ["conntracker", "conntracker", "/etc/pw", undefined],
  );
  assertEquals([c.central?.cluster, c.central?.pushAccounts, c.central?.tlsVerify], [
    undefined,
    true,
    undefined,
  ]);
  assertEquals(parseConfig("c.ini", "SqlitePath = /x.sqlite\n").central, undefined);
});

Deno.test("parseConfig() names the file and key of a bad [central] value", () => {
  const cases: [string, string, RegExp][] = [
    ["Database = x", "Hosts", /at least one central server/],
    ["Hosts = db1:99999", "Hosts", /"db1:99999" is not host:port/],
    ["Hosts = db1\nDatabase = fleet-x", "Database", /"fleet-x"/],
    ["Hosts = db1\nTlsVerify = maybe", "TlsVerify", /true or false, got "maybe"/],
    ["Hosts = db1\nServerId = " + "x".repeat(65), "ServerId", /at most 64/],
    ["Hosts = db1\nPassword = secret", "Password", /Unknown key "Password" in \[central\]/],
  ];
  for (const [body, key, pattern] of cases) {
    const e = (() => {
      try {
        parseConfig("/etc/c.ini", `[central]\n${body}\n`);
      } catch (e) {
        return e;
      }
    })();
    assert(e instanceof ConfigError, body);
    assertEquals([e.file, e.key], ["/etc/c.ini", key]);
    assert(pattern.test(e.message), `${e.message} !~ ${pattern}`);
  }
});

Deno.test("parseCentralSection() takes TLS settings and names", () => {
  const c = parseCentralSection({
    Hosts: "db1",
    TlsCa: "/etc/ca.pem",
    TlsVerify: false,
    ServerId: "db-7",
    Cluster: "prod-eu",
    PushAccounts: "false",
  });
  assertEquals([c.tlsCa, c.tlsVerify, c.serverId, c.cluster, c.pushAccounts], [
    "/etc/ca.pem",
    false,
    "db-7",
    "prod-eu",
    false,
  ]);
  assertThrows(() => parseCentralSection({ Hosts: "db1", User: "" }), /Key User/);
});

Deno.test("conntracker.ini-dist documents every [central] key", async () => {
  const text = await Deno.readTextFile(`${ROOT}/conntracker.ini-dist`);
  const section = text.slice(text.indexOf("[central]"));
  assert(text.includes("[central]"));
  for (const [key, { default: value }] of Object.entries(CENTRAL_KEYS)) {
    assert(section.includes(`; ${key} = ${value}`), key);
  }
});

Deno.test("CLI: push without [central] is a usage error; before any run it sends nothing (exit 7)", async () => {
  await withTempDir(async (dir) => {
    const config = join(dir, "c.ini");
    await Deno.writeTextFile(config, `SqlitePath = ${join(dir, "a.sqlite")}\n`);
    const none = await runCli(["push", "--config", config]);
    assertEquals(none.code, 2, none.stderr);
    assert(/No \[central\] section/.test(none.stderr), none.stderr);
    await Deno.writeTextFile(
      config,
      `SqlitePath = ${join(dir, "a.sqlite")}\n[central]\nHosts = 127.0.0.1:1\nServerId = a\n`,
    );
    const early = await runCli(["push", "--config", config]);
    assertEquals(early.code, 7, early.stderr);
    assertEquals(early.stderr.trim().split("\n").length, 1);
    assert(
      /level=WARN msg="push failed".*No run has completed yet/.test(early.stderr),
      early.stderr,
    );
    await assertRejects(() => Deno.stat(join(dir, "a.sqlite")), Deno.errors.NotFound);
  });
});
