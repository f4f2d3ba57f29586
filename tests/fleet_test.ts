import { deepStrictEqual as assertEquals } from "node:assert";
import { buildFleet } from "../lib/push/fleet.ts";
import type { FleetData, ServerInfo } from "../lib/push/fleet_reads.ts";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 1);

function server(serverId: string, extra: Partial<ServerInfo> = {}): ServerInfo {
  return {
    serverId,
    cluster: "",
    watchedSinceMs: NOW - 100 * DAY,
    dataUntilMs: NOW - 60_000,
    pushedMs: NOW - 60_000,
    losses: [],
    ...extra,
  };
}

function statuses(data: FleetData, unusedForMs?: number) {
  return buildFleet(data, { unusedForMs, now: NOW, time: (ms) => new Date(ms).toISOString() })
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
      ["n1", {
        accounts: [{
          user: "app",
          host: "10.0.0.1",
          logins: 3,
          lastLogin: NOW - 5 * DAY,
          failed: 0,
        }],
        proxies: [],
      }],
      ["n2", {
        accounts: [
          { user: "app", host: "10.0.0.2", logins: 2, lastLogin: NOW - 2 * DAY, failed: 1 },
          { user: "old", host: "10.0.0.2", logins: 1, lastLogin: NOW - 95 * DAY, failed: 0 },
        ],
        proxies: [],
      }],
    ]),
  };
  const fleet = buildFleet(data, { unusedForMs: 90 * DAY, now: NOW, time: String });
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
  const base = (n2: Partial<ServerInfo>): FleetData => ({
    servers: [server("n1", { cluster: "prod", defined }), server("n2", { cluster: "prod", ...n2 })],
    observations: new Map([["n1", {
      accounts: [{ user: "old", host: "h", logins: 1, lastLogin: NOW - 95 * DAY, failed: 0 }],
      proxies: [],
    }]]),
  });
  // n2 pushed no account list: it could hold any account; it watches only 30 days.
  assertEquals(statuses(base({ watchedSinceMs: NOW - 30 * DAY }), 90 * DAY), [
    ["prod", "idle@%", "unknown", [], ["n1"]],
    ["prod", "old@%", "unknown", ["n1"], ["n1"]],
  ]);
  // n2 defines only "idle": "old" does not depend on it.
  assertEquals(
    statuses(base({ watchedSinceMs: NOW - 30 * DAY, defined: [defined[1]] }), 90 * DAY),
    [
      ["prod", "idle@%", "unknown", [], ["n1", "n2"]],
      ["prod", "old@%", "unused", ["n1"], ["n1"]],
    ],
  );
  // n2 has pushed nothing for longer than the period.
  assertEquals(statuses(base({ dataUntilMs: NOW - 91 * DAY, defined }), 90 * DAY), [
    ["prod", "idle@%", "unknown", [], ["n1", "n2"]],
    ["prod", "old@%", "unknown", ["n1"], ["n1", "n2"]],
  ]);
  // Without a period: a login ever recorded is used, none is never-seen.
  assertEquals(statuses(base({ defined }))[0][2], "never-seen");
});

Deno.test("buildFleet() keeps servers without a cluster apart, one row per logged account", () => {
  const data: FleetData = {
    servers: [server("a"), server("b", { cluster: "prod" })],
    observations: new Map([
      ["a", {
        accounts: [{ user: "x", host: "h1", logins: 0, failed: 2, lastFailed: NOW }],
        proxies: [],
      }],
      ["b", {
        accounts: [{ user: "x", host: "h1", logins: 1, lastLogin: NOW, failed: 0 }],
        proxies: [],
      }],
    ]),
  };
  assertEquals(statuses(data, 90 * DAY), [
    ["", "x@h1", "never-seen", [], []],
    ["prod", "x@h1", "used", ["b"], []],
  ]);
});

Deno.test("buildFleet() says unknown when a server that could hold it lost audit data in the period", () => {
  const defined = [{ user: "old", host: "%" }];
  const data = (losses: ServerInfo["losses"]): FleetData => ({
    servers: [server("n1", { cluster: "prod", defined, losses })],
    observations: new Map(),
  });
  assertEquals(statuses(data([{ fromMs: NOW - 10 * DAY, toMs: NOW - 9 * DAY }]), 90 * DAY), [
    ["prod", "old@%", "unknown", [], ["n1"]],
  ]);
  assertEquals(statuses(data([{ toMs: NOW - 95 * DAY }]), 90 * DAY), [
    ["prod", "old@%", "never-seen", [], ["n1"]],
  ]);
  // Without a period, any loss could have held its login.
  assertEquals(statuses(data([{ toMs: NOW - 95 * DAY }])), [["prod", "old@%", "unknown", [], [
    "n1",
  ]]]);
});
