import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { buildFleet } from "../lib/push/fleet.ts";
import type { FleetData, ServerInfo } from "../lib/push/fleet_reads.ts";
import type { Observations } from "../lib/store/report_reads.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 1);

function server(serverId: string, extra: Partial<ServerInfo> = {}): ServerInfo {
  return { serverId, cluster: "", pushedMs: NOW - 60_000, nameResolution: "off", ...extra };
}

/** What a server's database says: watched for 100 days, last run a minute ago, unless told. */
function observed(serverId: string, extra: Partial<Observations> = {}): Observations {
  return {
    accounts: [],
    proxies: [],
    watched: [{ serverHost: serverId, firstEvent: NOW - 100 * DAY, firstRun: NOW - 100 * DAY }],
    losses: [],
    runs: [{ startedMs: NOW - 60_000, errors: 0, auditFiles: 1 }],
    ...extra,
  };
}

function statuses(data: FleetData, periodMs?: number) {
  return buildFleet(data, { periodMs, now: NOW, time: (ms) => new Date(ms).toISOString() })
    .rows.map((r) => [r.cluster, `${r.name}@${r.host}`, r.status, r.seenBy, r.definedOn])
    .sort((a, b) => String(a).localeCompare(String(b)));
}

Deno.test("buildFleet() merges a cluster's nodes: latest login, who saw it, who defines it", () => {
  const defined = [{ user: "app", host: "%" }, { user: "old", host: "%" }];
  const data: FleetData = {
    servers: [
      server("n1", { cluster: "prod", defined }),
      server("n2", { cluster: "prod", defined }),
    ],
    observations: new Map([
      [
        "n1",
        observed("n1", {
          accounts: [{
            user: "app",
            host: "10.0.0.1",
            logins: 3,
            lastLogin: NOW - 5 * DAY,
            failed: 0,
          }],
        }),
      ],
      [
        "n2",
        observed("n2", {
          accounts: [
            { user: "app", host: "10.0.0.2", logins: 2, lastLogin: NOW - 2 * DAY, failed: 1 },
            { user: "old", host: "10.0.0.2", logins: 1, lastLogin: NOW - 95 * DAY, failed: 0 },
          ],
        }),
      ],
    ]),
  };
  const fleet = buildFleet(data, { periodMs: 90 * DAY, now: NOW, time: String });
  const app = fleet.rows.find((r) => r.name === "app")!;
  assertEquals(
    [app.logins, app.failedAttempts, app.lastSeen, app.clientHosts, app.seenBy, app.definedOn],
    [5, 1, NOW - 2 * DAY, ["10.0.0.1", "10.0.0.2"], ["n1", "n2"], ["n1", "n2"]],
  );
  assertEquals(statuses(data, 90 * DAY), [
    ["prod", "app@%", "used", ["n1", "n2"], ["n1", "n2"]],
    ["prod", "old@%", "unused", ["n2"], ["n1", "n2"]],
  ]);
});

Deno.test("buildFleet() says unknown, never unused, when a server that could hold it cannot tell", () => {
  const defined = [{ user: "old", host: "%" }, { user: "idle", host: "%" }];
  const base = (n2: Partial<ServerInfo>, o2: Partial<Observations> = {}): FleetData => ({
    servers: [server("n1", { cluster: "prod", defined }), server("n2", { cluster: "prod", ...n2 })],
    observations: new Map([
      [
        "n1",
        observed("n1", {
          accounts: [{
            user: "old",
            host: "10.0.0.1",
            logins: 1,
            lastLogin: NOW - 95 * DAY,
            failed: 0,
          }],
        }),
      ],
      ["n2", observed("n2", o2)],
    ]),
  });
  const shortWindow = {
    watched: [{ serverHost: "n2", firstEvent: NOW - 30 * DAY, firstRun: NOW - 30 * DAY }],
  };
  // n2 pushed no account list: it could hold any of the group's; it watches only 30 days.
  assertEquals(statuses(base({}, shortWindow), 90 * DAY), [
    ["prod", "idle@%", "unknown", [], ["n1"]],
    ["prod", "old@%", "unknown", ["n1"], ["n1"]],
  ]);
  // n2 defines only "idle": "old" does not depend on it.
  assertEquals(statuses(base({ defined: [defined[1]] }, shortWindow), 90 * DAY), [
    ["prod", "idle@%", "unknown", [], ["n1", "n2"]],
    ["prod", "old@%", "unused", ["n1"], ["n1"]],
  ]);
  // n2 has read nothing new for days: it has not pushed, or its runs stopped.
  assertEquals(
    statuses(
      base({ defined }, { runs: [{ startedMs: NOW - 3 * DAY, errors: 0, auditFiles: 1 }] }),
      90 * DAY,
    ),
    [
      ["prod", "idle@%", "unknown", [], ["n1", "n2"]],
      ["prod", "old@%", "unknown", ["n1"], ["n1", "n2"]],
    ],
  );
  // n2 lost audit data in the period.
  const lost = {
    losses: [{ path: "/a.log", unreadBytes: 9, from: NOW - 10 * DAY, to: NOW - 9 * DAY }],
  };
  const fleet = buildFleet(base({ defined }, lost), { periodMs: 90 * DAY, now: NOW, time: String });
  const old = fleet.rows.find((r) => r.name === "old")!;
  assertEquals(old.status, "unknown");
  assert(/^n2: audit data lost/.test(old.reason), old.reason);
  // Without a period: a login ever recorded is used, none is never-seen.
  assertEquals(statuses(base({ defined }))[0][2], "never-seen");
});

Deno.test("buildFleet() keeps servers without a cluster apart, one row per logged account", () => {
  const data: FleetData = {
    servers: [server("a"), server("b", { cluster: "prod" })],
    observations: new Map([
      [
        "a",
        observed("a", {
          accounts: [{ user: "x", host: "10.1.1.1", logins: 0, failed: 2, lastFailed: NOW }],
        }),
      ],
      [
        "b",
        observed("b", {
          accounts: [{ user: "x", host: "10.1.1.1", logins: 1, lastLogin: NOW - DAY, failed: 0 }],
        }),
      ],
    ]),
  };
  assertEquals(statuses(data, 90 * DAY), [
    ["", "x@10.1.1.1", "never-seen", [], []],
    ["prod", "x@10.1.1.1", "used", ["b"], []],
  ]);
});

Deno.test("buildFleet() takes the push's own login to a server for a doubt, not for use", () => {
  const self = {
    account: { user: "root", host: "localhost" },
    client: { user: "root", host: "localhost" },
  };
  const defined = [{ user: "root", host: "localhost" }];
  const data: FleetData = {
    servers: [server("n1", { defined, self })],
    observations: new Map([[
      "n1",
      observed("n1", {
        accounts: [{
          user: "root",
          host: "localhost",
          logins: 40,
          lastLogin: NOW - 60_000,
          failed: 0,
        }],
      }),
    ]]),
  };
  const [row] = buildFleet(data, { periodMs: 90 * DAY, now: NOW, time: String }).rows;
  assertEquals([row.status, row.logins, row.uncertainLogins], ["unknown", 0, 40]);
  assert(row.doubts.every((d) => d.why.startsWith("n1: ")), JSON.stringify(row.doubts));
});

Deno.test("buildFleet() lets a server without an account list judge accounts it never logged", () => {
  const data = (l: Partial<Observations>): FleetData => ({
    servers: [server("a"), server("l")],
    observations: new Map([
      [
        "a",
        observed("a", {
          accounts: [{
            user: "x",
            host: "10.1.1.1",
            logins: 1,
            lastLogin: NOW - 95 * DAY,
            failed: 0,
          }],
        }),
      ],
      ["l", observed("l", l)],
    ]),
  });
  assertEquals(statuses(data({}), 90 * DAY), [["", "x@10.1.1.1", "unused", ["a"], []]]);
  const lost = {
    losses: [{ path: "/l.log", unreadBytes: 9, from: NOW - 10 * DAY, to: NOW - 9 * DAY }],
  };
  const [row] = buildFleet(data(lost), { periodMs: 90 * DAY, now: NOW, time: String }).rows;
  assertEquals(row.status, "unknown");
  assert(/^l: audit data lost/.test(row.reason), row.reason);
});
