/**
 * Simulated servers of a fleet for the push tests: each has its own audit
 * log (written here by a deliberately simple generator, with its own
 * `serverhost`), its own config and local database, and a ledger of every
 * event its log holds: the oracle the central tables and the fleet report
 * are compared with.
 *
 * @module
 */

import { join } from "node:path";
import { accountKey } from "../lib/format/account.ts";
import type { Central, CentralNode, DatabaseUser } from "./galera.ts";
import { runCli } from "./helpers.ts";

/** What a server's log holds for one `user@host`. Times are epoch milliseconds. */
export interface Tally {
  user: string;
  host: string;
  logins: number;
  failed: number;
  firstLogin?: number;
  lastLogin?: number;
  lastFailed?: number;
}

/** One login attempt to write. */
export interface Event {
  user: string;
  host: string;
  ok: boolean;
  at: number;
}

/** A simulated server: its files and its ledger. */
export interface SimServer {
  id: string;
  serverHost: string;
  dir: string;
  log: string;
  config: string;
  sqlite: string;
  /** Keyed by `accountKey`. */
  ledger: Map<string, Tally>;
  /** The connection ids used so far. */
  connections: number;
  /** Appended files get increasing modification times. */
  mtimes: number;
}

/** The `[central]` keys of a server. */
export type CentralKeys = Record<string, string>;

/**
 * Creates a server's directory and config (`TimeLocation = UTC`).
 *
 * @example
 * ```ts
 * const a = await createServer("/tmp/x", { id: "a", serverHost: "db-a", central: { Hosts: "127.0.0.1:3306" } });
 * ```
 */
export async function createServer(
  root: string,
  options: { id: string; serverHost: string; central?: CentralKeys; keys?: Record<string, string> },
): Promise<SimServer> {
  const dir = join(root, options.id);
  await Deno.mkdir(join(dir, "logs"), { recursive: true });
  const server: SimServer = {
    id: options.id,
    serverHost: options.serverHost,
    dir,
    log: join(dir, "logs", "server_audit.log"),
    config: join(dir, "conntracker.ini"),
    sqlite: join(dir, "audit.sqlite"),
    ledger: new Map(),
    connections: 0,
    mtimes: Math.floor(Date.now() / 1000),
  };
  await writeServerConfig(server, options.central, options.keys);
  return server;
}

/** Writes the server's config again, with these `[central]` keys (none: no section). */
export async function writeServerConfig(
  server: Pick<SimServer, "dir" | "sqlite" | "config">,
  central?: CentralKeys,
  keys: Record<string, string> = {},
): Promise<void> {
  const lines = [
    "[default]",
    `AuditLogPath = ${join(server.dir, "logs")}`,
    `SqlitePath = ${server.sqlite}`,
    "TimeLocation = UTC",
    ...Object.entries(keys).map(([k, v]) => `${k} = ${v}`),
  ];
  if (central) lines.push("[central]", ...Object.entries(central).map(([k, v]) => `${k} = ${v}`));
  await Deno.writeTextFile(server.config, lines.join("\n") + "\n");
}

function stamp(at: number): string {
  const iso = new Date(at).toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)} ${iso.slice(11, 19)}`;
}

/**
 * Appends events to the server's log (CONNECT or FAILED_CONNECT with its
 * DISCONNECT, one connection id each) and records them in its ledger.
 *
 * @example
 * ```ts
 * await append(a, [{ user: "app", host: "10.0.0.1", ok: true, at: Date.now() - 86_400_000 }]);
 * ```
 */
export async function append(server: SimServer, events: Event[]): Promise<void> {
  const lines: string[] = [];
  for (const e of events) {
    const id = ++server.connections;
    const at = Math.floor(e.at / 1000) * 1000;
    const time = stamp(at);
    const op = e.ok ? "CONNECT" : "FAILED_CONNECT";
    lines.push(
      `${time},${server.serverHost},${e.user},${e.host},${id},0,${op},,,${e.ok ? 0 : 1045}`,
    );
    lines.push(`${time},${server.serverHost},${e.user},${e.host},${id},0,DISCONNECT,,,0`);
    const key = accountKey(e.user, e.host);
    const t = server.ledger.get(key) ?? { user: e.user, host: e.host, logins: 0, failed: 0 };
    if (e.ok) {
      t.logins++;
      t.firstLogin = Math.min(t.firstLogin ?? at, at);
      t.lastLogin = Math.max(t.lastLogin ?? at, at);
    } else {
      t.failed++;
      t.lastFailed = Math.max(t.lastFailed ?? at, at);
    }
    server.ledger.set(key, t);
  }
  await Deno.writeTextFile(server.log, lines.map((l) => l + "\n").join(""), { append: true });
  const mtime = new Date(++server.mtimes * 1000);
  await Deno.utime(server.log, mtime, mtime);
}

/**
 * `count` events spread over `[fromMs, toMs)`, in time order, from a
 * deterministic `random`: users and hosts from the given pools, 1 in 8 failed.
 *
 * @example
 * ```ts
 * const events = generate(prng(1), { users: ["app"], hosts: ["10.0.0.1"], count: 10, fromMs: 0, toMs: 1e6 });
 * ```
 */
export function generate(
  random: () => number,
  options: { users: string[]; hosts: string[]; count: number; fromMs: number; toMs: number },
): Event[] {
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  const step = (options.toMs - options.fromMs) / options.count;
  return Array.from({ length: options.count }, (_, i) => ({
    user: pick(options.users),
    host: pick(options.hosts),
    ok: random() >= 0.125,
    at: options.fromMs + Math.floor(i * step),
  }));
}

/** A central `activity` row as the tests compare it. */
export interface CentralActivity {
  server: string;
  user: string;
  host: string;
  logins: number;
  failed: number;
  firstLogin: number | null;
  lastLogin: number | null;
  lastFailed: number | null;
}

/**
 * What the central `activity` table must hold for these servers: their
 * ledgers, sorted.
 *
 * @example
 * ```ts
 * const expected = expectedActivity([a, b, c]);
 * ```
 */
export function expectedActivity(servers: SimServer[]): CentralActivity[] {
  return servers.flatMap((s) =>
    [...s.ledger.values()].map((t) => ({
      server: s.id,
      user: t.user,
      host: t.host,
      logins: t.logins,
      failed: t.failed,
      firstLogin: t.firstLogin ?? null,
      lastLogin: t.lastLogin ?? null,
      lastFailed: t.lastFailed ?? null,
    }))
  ).sort(byKey);
}

function byKey(a: CentralActivity, b: CentralActivity): number {
  const ka = `${a.server}\0${a.user}\0${a.host}`, kb = `${b.server}\0${b.user}\0${b.host}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * The central `activity` table as one node holds it, read after it has
 * applied everything committed before the read (`wsrep_sync_wait`).
 *
 * @example
 * ```ts
 * const rows = await centralActivity(cluster, cluster.nodes[0], "fleet");
 * ```
 */
export async function centralActivity(
  central: Central,
  node: CentralNode,
  database: string,
): Promise<CentralActivity[]> {
  const sync = central.kind === "galera" ? "SET STATEMENT wsrep_sync_wait=1 FOR " : "";
  const rows = await central.sql(
    node,
    `${sync}SELECT server_id, name, host, logins, failed_attempts, first_login_ms, last_login_ms,
       last_failed_ms FROM \`${database}\`.activity`,
  );
  const n = (v: unknown) => (v === null ? null : Number(v));
  return rows.map((r) => ({
    server: String(r.server_id),
    user: String(r.name),
    host: String(r.host),
    logins: Number(r.logins),
    failed: Number(r.failed_attempts),
    firstLogin: n(r.first_login_ms),
    lastLogin: n(r.last_login_ms),
    lastFailed: n(r.last_failed_ms),
  })).sort(byKey);
}

/**
 * The `[central]` keys for a pusher that tries `nodes` in this order.
 *
 * @example
 * ```ts
 * centralKeys(account, cluster.nodes, "a");
 * ```
 */
export function centralKeys(account: DatabaseUser, nodes: readonly CentralNode[], id: string) {
  return {
    Hosts: nodes.map((n) => `${n.host}:${n.port}`).join(", "),
    Database: account.database,
    User: account.user,
    PasswordFile: account.passwordFile,
    ServerId: id,
  };
}

/**
 * Copies a SQLite database with its `-wal` and `-shm` files, if any (no run may hold it).
 *
 * @example
 * ```ts
 * await copyDatabase(a.sqlite, "/tmp/x/a-copy.sqlite");
 * ```
 */
export async function copyDatabase(from: string, to: string): Promise<void> {
  for (const suffix of ["", "-wal", "-shm"]) {
    await Deno.copyFile(from + suffix, to + suffix).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
}

/**
 * Puts a copy made by {@link copyDatabase} back in place of the database.
 *
 * @example
 * ```ts
 * await restoreDatabase("/tmp/x/a-copy.sqlite", a.sqlite);
 * ```
 */
export async function restoreDatabase(copy: string, to: string): Promise<void> {
  for (const suffix of ["-wal", "-shm"]) await Deno.remove(to + suffix).catch(() => {});
  await copyDatabase(copy, to);
}

/** What `report --central --format json` printed: its accounts and unmatched logins. */
export interface FleetJson {
  accounts: Record<string, unknown>[];
  unmatched: Record<string, unknown>[];
}

/**
 * Runs `conntracker report --central --format json` as a reader would, with
 * `--unused-for` and `--now` when given; fails unless it exits 0.
 *
 * @example
 * ```ts
 * const { accounts } = await fleetJson("/tmp/x/reader.ini", { unusedFor: "30d" });
 * ```
 */
export async function fleetJson(
  config: string,
  options: { unusedFor?: string; now?: number } = {},
): Promise<FleetJson> {
  const args = ["report", "--central", "--config", config, "--format", "json"];
  if (options.unusedFor) args.push("--unused-for", options.unusedFor);
  if (options.now !== undefined) args.push("--now", new Date(options.now).toISOString());
  const out = await runCli(args);
  if (out.code !== 0) throw new Error(`report --central exited ${out.code}: ${out.stderr}`);
  return JSON.parse(out.stdout);
}
