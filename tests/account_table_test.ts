import { deepStrictEqual as assertEquals } from "node:assert";
import { Buffer } from "node:buffer";
import { AccountTable, type Activity, keyHash } from "../lib/track/account_table.ts";
import { prng } from "./helpers.ts";

/** A deliberately simple table: a Map by `user\0host` of plain objects. */
function simpleTally(events: { user: string; host: string; at: number; ok: boolean }[]) {
  const accounts = new Map<string, Activity>();
  for (const e of events) {
    const key = `${e.user}\u0000${e.host}`;
    const a = accounts.get(key) ??
      {
        user: e.user,
        host: e.host,
        serverHost: "vm",
        logins: 0,
        firstLogin: undefined,
        lastLogin: undefined,
        failed: 0,
        lastFailed: undefined,
      };
    accounts.set(key, a);
    if (e.ok) {
      a.logins++;
      a.firstLogin = Math.min(a.firstLogin ?? Infinity, e.at);
      a.lastLogin = Math.max(a.lastLogin ?? -Infinity, e.at);
    } else {
      a.failed++;
      a.lastFailed = Math.max(a.lastFailed ?? -Infinity, e.at);
    }
  }
  const sortKey = (a: Activity) =>
    Buffer.concat([Buffer.from(a.user), Buffer.from([0]), Buffer.from(a.host)]);
  return [...accounts.values()].map((a) => ({ a, key: sortKey(a) }))
    .sort((x, y) => Buffer.compare(x.key, y.key)).map((x) => x.a);
}

Deno.test("AccountTable counts as a simple map does, and lists accounts in byte order (fuzz)", () => {
  const random = prng(42);
  const users = ["", "a", "ab", "app", "zoë", "ä", "a,b", "日本", "app_1", "\ufeffa"];
  // Longer than an arena chunk: a chunk of its own.
  const long = "x".repeat(300_000);
  const hosts = ["", "%", "h", "10.0.0.1", "db.example", "ⓗ", "h2"];
  for (let round = 0; round < 20; round++) {
    const table = new AccountTable();
    const server = table.serverIndex("vm");
    const events = Array.from({ length: 200 + Math.floor(random() * 4000) }, () => ({
      user: random() < 0.01 ? long : users[Math.floor(random() * users.length)] +
        (random() < 0.5 ? "" : Math.floor(random() * 3000)),
      host: hosts[Math.floor(random() * hosts.length)],
      at: Math.floor(random() * 1e6),
      ok: random() < 0.7,
    }));
    for (const e of events) {
      const at = table.indexOf(e.user, e.host, true);
      if (e.ok) table.countLogin(at, e.at, server);
      else table.countFailed(at, e.at, server);
    }
    const want = simpleTally(events);
    assertEquals(table.size, want.length);
    assertEquals([...table], want);
    assertEquals(table.get("nobody", "%"), undefined);
    assertEquals(table.indexOf("nobody", "%", false), -1);
  }
});

Deno.test("AccountTable.find() by bytes finds the account indexOf() made by text", () => {
  const table = new AccountTable();
  const made = table.indexOf("zoë", "10.0.0.1", true);
  const line = new TextEncoder().encode("t,vm,zoë,10.0.0.1:3306,5,0,CONNECT");
  const key = { userStart: 5, userEnd: 9, hostStart: 10, hostEnd: 18 };
  assertEquals(table.find(line, key, keyHash(line, key), false), made);
  const other = { ...key, hostEnd: 17 };
  assertEquals(table.find(line, other, keyHash(line, other), false), -1);
});
