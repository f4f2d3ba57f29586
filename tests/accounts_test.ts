import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert";
import { join } from "node:path";
import type { Account } from "../lib/format/account.ts";
import {
  AccountListError,
  hostGenerality,
  indexAccounts,
  matchAccount,
  parseAccountList,
} from "../lib/report/accounts.ts";
import { FIXTURES } from "./helpers.ts";
import type { Attempt } from "./mariadb.ts";

function accounts(...specs: string[]): Account[] {
  return specs.map((s) => {
    const at = s.lastIndexOf("@");
    return { user: s.slice(0, at), host: s.slice(at + 1) };
  });
}

function chosen(defined: Account[], user: string, host: string): string | undefined {
  const a = matchAccount(indexAccounts(defined), user, host);
  return a && `${a.user}@${a.host}`;
}

// [defined accounts, user, logged host, the account MariaDB chooses (by the rules of sql_acl.cc)]
const CASES: [string[], string, string, string | undefined][] = [
  [["app@%"], "app", "10.1.2.3", "app@%"],
  [["app@%"], "bob", "10.1.2.3", undefined],
  [["app@%", "app@10.1.2.3"], "app", "10.1.2.3", "app@10.1.2.3"],
  [["app@%", "app@10.1.%"], "app", "10.1.2.3", "app@10.1.%"],
  [["app@10.1.%", "app@10.1.2.%"], "app", "10.1.2.3", "app@10.1.2.%"],
  [["app@10.1.%", "app@10.1.2.%"], "app", "10.1.3.3", "app@10.1.%"],
  // _ matches one character; % any run, also none.
  [["app@10.1.2._"], "app", "10.1.2.3", "app@10.1.2._"],
  [["app@10.1.2._"], "app", "10.1.2.33", undefined],
  [["app@%.example.com"], "app", "db1.example.com", "app@%.example.com"],
  // Host names compare without case.
  [["app@DB1.example.com"], "app", "db1.example.com", "app@DB1.example.com"],
  // \ escapes a wildcard.
  [["app@a\\_b"], "app", "a_b", "app@a\\_b"],
  [["app@a\\_b"], "app", "axb", undefined],
  // ip/netmask: IPv4 networks, as specific as an exact host.
  [["app@10.0.0.0/255.0.0.0", "app@%"], "app", "10.9.8.7", "app@10.0.0.0/255.0.0.0"],
  [["app@10.0.0.0/255.0.0.0", "app@%"], "app", "11.9.8.7", "app@%"],
  [["app@10.0.0.0/255.0.0.0"], "app", "localhost", undefined],
  [["app@10.1.2.%", "app@10.0.0.0/255.0.0.0"], "app", "10.1.2.3", "app@10.0.0.0/255.0.0.0"],
  // Equally specific: the host that sorts last wins (localhost before 127.0.0.1).
  [["app@127.0.0.1", "app@127.0.0.0/255.255.255.0"], "app", "127.0.0.1", "app@127.0.0.1"],
  // Socket logins are "localhost"; IP patterns do not match them.
  [["app@127.0.0.1", "app@%"], "app", "localhost", "app@%"],
  [["app@localhost", "app@%"], "app", "localhost", "app@localhost"],
  // An empty host is %.
  [["app@"], "app", "10.1.2.3", "app@"],
  // Anonymous users: only when more specific than the named account found.
  [["@localhost", "app@%"], "app", "localhost", "@localhost"],
  [["@localhost", "app@localhost"], "app", "localhost", "app@localhost"],
  [["@%", "app@10.%"], "app", "10.1.2.3", "app@10.%"],
  [["@10.1.2.3", "app@10.%"], "app", "10.1.2.3", "@10.1.2.3"],
  [["@%"], "nobody", "10.1.2.3", "@%"],
  [["@localhost", "app@%"], "app", "10.1.2.3", "app@%"],
  // User names are case-sensitive.
  [["App@%"], "app", "10.1.2.3", undefined],
  // Fewer wildcards first; then, as MariaDB's get_magic_sort, the earlier wildcard.
  [["app@%", "app@%.%"], "app", "a.b", "app@%.%"],
  [["app@1%", "app@10%"], "app", "100", "app@10%"],
];

Deno.test("matchAccount() chooses the account MariaDB would, for a table of cases", () => {
  for (const [defined, user, host, want] of CASES) {
    assertEquals(chosen(accounts(...defined), user, host), want, `${user}@${host} in ${defined}`);
  }
});

Deno.test("matchAccount() agrees with CURRENT_USER() on every login of the real capture", () => {
  const dir = join(FIXTURES, "mariadb-10.11-e2e");
  const defined = parseAccountList(Deno.readTextFileSync(join(dir, "mysql_user.tsv")), "tsv");
  const manifest = JSON.parse(Deno.readTextFileSync(join(dir, "manifest.json")));
  const index = indexAccounts(defined);
  let checked = 0;
  for (const a of manifest.attempts as Attempt[]) {
    if (!a.currentUser) continue;
    const got = matchAccount(index, a.user, a.host);
    assertEquals(got && `${got.user}@${got.host}`, a.currentUser, `${a.user}@${a.host}`);
    checked++;
  }
  assertEquals(checked >= 15, true);
});

Deno.test("hostGenerality() orders exact before netmask ties, wildcards after, % last", () => {
  const order = ["10.1.2.3", "10.1.2._", "10.1.2.%", "10.1.%", "%"].map(hostGenerality);
  assertEquals([...order].sort((a, b) => a - b), order);
  assertEquals(hostGenerality("10.0.0.0/255.0.0.0"), 0);
  assertEquals(hostGenerality(""), hostGenerality("%"));
});

Deno.test("parseAccountList() reads mariadb -N -B output, leaves roles and a header out", () => {
  assertEquals(
    parseAccountList("User\tHost\napp\t%\nreader\t\n\tlocalhost\r\nx\\ty\t10.%\n\n", "f"),
    [{ user: "app", host: "%" }, { user: "", host: "localhost" }, { user: "x\ty", host: "10.%" }],
  );
  assertThrows(
    () => parseAccountList("app %\n", "users.txt"),
    (e) => e instanceof AccountListError && e.source === "users.txt" && /Line 1/.test(e.message),
  );
});
