import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "node:assert";
import { join } from "node:path";
import type { Account } from "../lib/format/account.ts";
import {
  AccountListError,
  hostGenerality,
  hostRequiresResolving,
  indexAccounts,
  isIpAddress,
  matchAccount,
  parseAccountList,
} from "../lib/report/accounts.ts";
import { candidateAccounts, type Resolution } from "../lib/report/candidates.ts";
import { FIXTURES } from "./helpers.ts";
import type { Attempt } from "./mariadb.ts";

function accounts(...specs: string[]): Account[] {
  return specs.map((s) => {
    const at = s.lastIndexOf("@");
    return { user: s.slice(0, at), host: s.slice(at + 1) };
  });
}

/** The account MariaDB chooses for a logged host, as with skip-name-resolve (an IP, or the socket). */
function chosen(defined: Account[], user: string, host: string): string | undefined {
  const client = isIpAddress(host) ? { ip: host } : { name: host };
  const a = matchAccount(indexAccounts(defined), user, client);
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

Deno.test("matchAccount() agrees with CURRENT_USER() on every login of the capture with --skip-name-resolve", () => {
  const dir = join(FIXTURES, "mariadb-10.11-e2e");
  const defined = parseAccountList(Deno.readTextFileSync(join(dir, "mysql_user.tsv")), "tsv");
  const manifest = JSON.parse(Deno.readTextFileSync(join(dir, "manifest.json")));
  const index = indexAccounts(defined);
  let checked = 0;
  for (const a of manifest.attempts as Attempt[]) {
    if (!a.currentUser) continue;
    const got = matchAccount(
      index,
      a.user,
      isIpAddress(a.host) ? { ip: a.host } : { name: a.host },
    );
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

// A client as the server saw it (name and IP) and the account MariaDB chose: the research notes'
// measured table (name resolution on, /etc/hosts: 127.0.0.1 localhost).
const CLIENTS: [string[], string, { name?: string; ip?: string }, string | undefined][] = [
  [
    ["both@localhost", "both@127.0.0.1"],
    "both",
    { name: "localhost", ip: "127.0.0.1" },
    "both@localhost",
  ],
  [["iponly@127.0.0.1"], "iponly", { name: "localhost", ip: "127.0.0.1" }, "iponly@127.0.0.1"],
  [["iponly@127.0.0.1"], "iponly", { name: "localhost" }, undefined],
  [["lhonly@localhost"], "lhonly", { name: "localhost", ip: "127.0.0.1" }, "lhonly@localhost"],
  [["lhany@localhost", "lhany@%"], "lhany", { ip: "127.0.0.2" }, "lhany@%"],
  [["pat@127.0.0.%", "pat@local%"], "pat", { name: "localhost", ip: "127.0.0.1" }, "pat@127.0.0.%"],
  [["pat@127.0.0.%", "pat@local%"], "pat", { name: "localhost" }, "pat@local%"],
  [["mask@127.0.0.0/255.255.255.0", "mask@localhost"], "mask", {
    name: "localhost",
    ip: "127.0.0.1",
  }, "mask@localhost"],
  [
    ["mask@127.0.0.0/255.255.255.0", "mask@localhost"],
    "mask",
    { ip: "127.0.0.2" },
    "mask@127.0.0.0/255.255.255.0",
  ],
  // IPs compare with case (wild_compare), names without (wild_case_compare).
  [["v6@FE80::%"], "v6", { ip: "fe80::1" }, undefined],
  [["v6@fe80::%"], "v6", { ip: "fe80::1" }, "v6@fe80::%"],
];

Deno.test("matchAccount() matches a host pattern against the client's name and its IP", () => {
  for (const [defined, user, client, want] of CLIENTS) {
    const a = matchAccount(indexAccounts(accounts(...defined)), user, client);
    assertEquals(
      a && `${a.user}@${a.host}`,
      want,
      `${user} ${JSON.stringify(client)} in ${defined}`,
    );
  }
});

function candidates(defined: string[], user: string, host: string, resolution: Resolution) {
  const c = candidateAccounts(indexAccounts(accounts(...defined)), user, host, resolution);
  return c.accounts.map((a) => `${a.user}@${a.host}`);
}

Deno.test("candidateAccounts(): localhost is the socket or loopback TCP unless the server skips name resolution", () => {
  const on: Resolution = { mode: "unknown", addresses: new Map() };
  const off: Resolution = { mode: "off", addresses: new Map() };
  const svc = ["svc@127.0.0.1", "svc@%", "@localhost"];
  assertEquals(candidates(svc, "svc", "localhost", on), ["@localhost", "svc@127.0.0.1"]);
  assertEquals(candidates(svc, "svc", "localhost", off), ["@localhost"]);
  // Every variant gives the same account: certain.
  assertEquals(candidates(["app@localhost", "app@127.0.0.1"], "app", "localhost", on), [
    "app@localhost",
  ]);
  // The resolver's own addresses for localhost count too.
  const more: Resolution = { mode: "on", addresses: new Map([["localhost", ["127.0.0.5"]]]) };
  assertEquals(candidates(["x@127.0.0.5", "x@%"], "x", "localhost", more), ["x@%", "x@127.0.0.5"]);
  // An IP is one client.
  assertEquals(candidates(svc, "svc", "127.0.0.2", on), ["svc@%"]);
  const refused = candidateAccounts(
    indexAccounts(accounts("iponly@127.0.0.1")),
    "iponly",
    "localhost",
    on,
  );
  assertEquals([refused.accounts.length, refused.none], [1, true]);
});

Deno.test("candidateAccounts(): a name stands for any address, whatever it resolves to now", () => {
  const defined = ["app@10.0.0.0/255.0.0.0", "app@db1.example.com", "app@%.example.com"];
  const resolved = (ips: string[]): Resolution => ({
    mode: "on",
    addresses: new Map([["db1.example.com", ips]]),
  });
  // A literal name and a netmask rank equal: the name sorts later, so it wins over the netmask,
  // and it matches the name whatever the address: certain.
  for (const ips of [["10.1.1.1"], ["192.168.1.1"], []]) {
    assertEquals(candidates(defined, "app", "db1.example.com", resolved(ips)), [
      "app@db1.example.com",
    ]);
  }
  // The address at login time may not be today's (DNS changed, DHCP, a moved VM): a name that now
  // resolves inside the netmask may have been outside it, and one outside may have been inside.
  const wide = ["app@10.0.0.0/255.0.0.0", "app@%.example.com"];
  const index = indexAccounts(accounts(...wide));
  for (const ip of ["10.1.1.1", "192.168.1.1"]) {
    const choice = candidateAccounts(index, "app", "db1.example.com", resolved([ip]));
    assertEquals(choice.accounts.map((a) => a.host), ["%.example.com", "10.0.0.0/255.0.0.0"]);
    assertEquals(
      choice.why,
      `db1.example.com resolves to ${ip} now; when it logged in it may have had another address`,
    );
  }
  // Not resolvable now: any IP, so the netmask may have taken it.
  const unknown = candidateAccounts(index, "app", "db1.example.com", resolved([]));
  assertEquals(unknown.accounts.map((a) => a.host), ["%.example.com", "10.0.0.0/255.0.0.0"]);
  assert(/does not resolve/.test(unknown.why!), unknown.why);
  // Accounts whose host cannot match an IP leave a name certain, resolved or not.
  for (const ips of [["10.1.1.1"], []]) {
    assertEquals(
      candidates(["app@%.example.com", "app@other.net"], "app", "db1.example.com", resolved(ips)),
      ["app@%.example.com"],
    );
  }
});

Deno.test("hostRequiresResolving() as sql_acl.cc: names, not localhost, patterns, IPs or netmasks", () => {
  for (const host of ["vm", "db1.example.com", "h\\o'st"]) {
    assert(hostRequiresResolving(host), host);
  }
  for (
    const host of [
      "localhost",
      "LOCALHOST",
      "%",
      "10.0.0.%",
      "10.0.0.1",
      "::1",
      "10.0.0.0/255.0.0.0",
      "a_b",
    ]
  ) {
    assert(!hostRequiresResolving(host), host);
  }
});

Deno.test("candidateAccounts() always includes CURRENT_USER() on the capture with name resolution on", () => {
  const dir = join(FIXTURES, "mariadb-10.11-resolve");
  const defined = parseAccountList(Deno.readTextFileSync(join(dir, "mysql_user.tsv")), "tsv");
  const manifest = JSON.parse(Deno.readTextFileSync(join(dir, "manifest.json")));
  const index = indexAccounts(defined);
  // What the capture machine's resolver said: localhost is 127.0.0.1 only.
  const resolution: Resolution = { mode: "on", addresses: new Map([["localhost", ["127.0.0.1"]]]) };
  let certain = 0, uncertain = 0;
  for (const a of manifest.attempts as Attempt[]) {
    if (!a.currentUser) continue;
    const got = candidateAccounts(index, a.user, a.host, resolution).accounts
      .map((c) => `${c.user}@${c.host}`);
    assert(got.includes(a.currentUser), `${a.user}@${a.host}: ${got} lacks ${a.currentUser}`);
    if (got.length === 1) certain++;
    else uncertain++;
  }
  // TCP from 127.0.0.1 is logged localhost: svc and net logins from there stay uncertain.
  assertEquals([certain >= 10, uncertain >= 2], [true, true]);
});
