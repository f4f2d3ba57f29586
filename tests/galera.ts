/**
 * Throwaway central stores for the push tests, from Debian's `mariadb-server`
 * and `galera-4`: a real Galera cluster of MariaDB nodes, or one plain MariaDB
 * server, on 127.0.0.1 in one temp dir. The servers run as the `mysql` user,
 * every process is stopped by its PID and the temp dir is removed, also when
 * a test throws.
 *
 * Each node has its own option file, data directory, socket, error log and
 * ports (SQL, and for Galera gcomm, IST and SST), probed free at start below
 * the kernel's ephemeral range, so that no outgoing connection can take them.
 *
 * @example
 * ```ts
 * await using cluster = await startCluster();
 * const [n1, , n3] = cluster.nodes;
 * await cluster.sql(n1, "CREATE DATABASE fleet");
 * await cluster.sql(n3, "SET STATEMENT wsrep_sync_wait=1 FOR SHOW DATABASES");
 * ```
 *
 * @module
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { MARIADBD } from "./mariadb.ts";

/** Where the Galera provider library is. */
const PROVIDER = [
  "/usr/lib/galera/libgalera_smm.so",
  "/usr/lib64/galera-4/libgalera_smm.so",
  "/usr/lib/libgalera_smm.so",
].find((p) => existsSync(p));

function onPath(command: string): boolean {
  const path = Deno.env.get("PATH") ?? "";
  return path.split(":").some((dir) => dir && existsSync(join(dir, command)));
}

/** What a Galera cluster needs and this machine lacks, if anything. */
function missingForGalera(): string | undefined {
  if (!MARIADBD) return "mariadbd";
  if (!PROVIDER) return "libgalera_smm.so";
  return ["rsync", "wsrep_sst_rsync"].find((command) => !onPath(command));
}

/** Whether a Galera cluster can be started here: the server, the provider, rsync for SST. */
export const HAVE_GALERA: boolean = missingForGalera() === undefined;

/** How long a node may take to start (and for Galera, to reach `Synced`). */
const START_TIMEOUT_MS = 90_000;

/** How long a graceful shutdown may take before the node is SIGKILLed. */
const SHUTDOWN_TIMEOUT_MS = 30_000;

/** A row as `mysql2` returns it. */
export type Row = Record<string, unknown>;

/** One server of a central store: a Galera node, or the plain server. */
export interface CentralNode {
  /** 1-based; node 1 bootstraps a new cluster. */
  readonly index: number;
  /** `node1`, `node2`, … (the Galera `wsrep_node_name`). */
  readonly name: string;
  /** Always `127.0.0.1`. */
  readonly host: string;
  /** The SQL port on `host`. */
  readonly port: number;
  readonly socket: string;
  /** This node's own directory (option file, data, socket, logs). */
  readonly dir: string;
  readonly datadir: string;
  /** Its `tmpdir`. */
  readonly tmpdir: string;
  readonly configFile: string;
  readonly errorLog: string;
  /** The Galera ports, for a cluster node. */
  readonly galera?: { gcomm: number; ist: number; sst: number };
  /** The running `mariadbd`'s PID; undefined while stopped. */
  readonly pid: number | undefined;
  /** SIGSTOPped by {@linkcode Central.freeze}. */
  readonly frozen: boolean;
}

/** What {@linkcode Central.createDatabaseUser} creates. */
export interface DatabaseUserOptions {
  database: string;
  user: string;
  /**
   * Granted on `database.*` only (default: what a pusher that creates and
   * migrates its own tables needs: `SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX`).
   */
  privileges?: string;
  /** The account's hosts (default: `127.0.0.1` for TCP and `localhost` for the socket). */
  hosts?: string[];
}

/** A created account: its password is only in `passwordFile`. */
export interface DatabaseUser {
  database: string;
  user: string;
  hosts: string[];
  password: string;
  /** Mode 0600, the password and a newline. */
  passwordFile: string;
}

/** How {@linkcode Central.stopAll} stops the servers. */
export interface StopAllOptions {
  /**
   * `SIGTERM` (default): a graceful shutdown, one node at a time from the
   * highest index down, so that the last one left is marked
   * `safe_to_bootstrap`. `SIGKILL`: all at once, as a power cut.
   */
  signal?: "SIGTERM" | "SIGKILL";
}

/**
 * A running central store and the operations the tests need on it.
 *
 * @example
 * ```ts
 * await using central = await startCluster();
 * const [n1, n2] = central.nodes;
 * await central.kill(n2);
 * await central.sql(n1, "SELECT 1");
 * await central.restart(n2);
 * ```
 */
export interface Central {
  readonly kind: "galera" | "plain";
  /** The one temp dir holding every node's directory. */
  readonly dir: string;
  /** `wsrep_cluster_name`, for a cluster. */
  readonly clusterName: string | undefined;
  readonly nodes: readonly CentralNode[];
  /** Runs one statement as root over the node's socket; returns its rows (none for a write). */
  sql(node: CentralNode, query: string, values?: unknown[]): Promise<Row[]>;
  /** Creates `database` (if missing) and an account with privileges on it only. */
  createDatabaseUser(options: DatabaseUserOptions): Promise<DatabaseUser>;
  /** Waits until the node answers and, for Galera, is `Synced` and `wsrep_ready`. */
  waitSynced(node: CentralNode, timeoutMs?: number): Promise<void>;
  /** SIGKILLs the node and waits for it to be gone. */
  kill(node: CentralNode): Promise<void>;
  /** Stops the node gracefully (SIGTERM, SIGKILL after 30 s). */
  shutdown(node: CentralNode): Promise<void>;
  /**
   * Starts a stopped node again (a running one is shut down first) and waits
   * until it is synced. A Galera node first waits until the others have
   * dropped it, then rejoins from its `--wsrep-recover` position (IST).
   */
  restart(node: CentralNode): Promise<void>;
  /** SIGSTOPs the node: it keeps its connections and answers nothing. */
  freeze(node: CentralNode): void;
  /** SIGCONTs a frozen node (a Galera node then rejoins by itself: see `waitSynced`). */
  thaw(node: CentralNode): void;
  /** Stops every running node: the central store is down. */
  stopAll(options?: StopAllOptions): Promise<void>;
  /**
   * Starts every stopped node. With none running, a cluster is bootstrapped
   * from the node marked `safe_to_bootstrap` in its `grastate.dat`, or else
   * the one whose recovered position is the most advanced (which is then
   * marked). Returns the node it bootstrapped from, if it did.
   */
  startAll(): Promise<CentralNode | undefined>;
  /** SIGKILLs every process, removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@linkcode startCluster}. */
export interface ClusterOptions {
  /** How many nodes (default 3). */
  nodes?: number;
  /** Where the cluster's own temp directory is made (default: the system's temp directory). */
  parent?: string;
  /** `wsrep_cluster_name` (default `conntracker-central`). */
  name?: string;
  /** More `[mariadbd]` lines for every node's option file, e.g. `wsrep_mode=REQUIRED_PRIMARY_KEY`. */
  config?: string[];
}

/** Options of {@linkcode startCentral}. */
export interface CentralOptions {
  /** More `[mariadbd]` lines for the option file. */
  config?: string[];
}

/** The server, Galera or rsync is not installed. */
export class NotInstalledError extends Error {
  constructor(what: string) {
    super(`Not installed: "${what}" (apt-get install mariadb-server galera-4 rsync)`);
    this.name = "NotInstalledError";
  }
}

/** A node exited or did not get ready in time; the message ends with its error log. */
export class ServerStartError extends Error {
  constructor(node: string, problem: string, log = "") {
    super(`Server "${node}" ${problem}${log && `; the end of its error log:\n${log}`}`);
    this.name = "ServerStartError";
  }
}

/** A database or option name the helper would have to quote. */
export class InvalidNameError extends Error {
  constructor(name: string) {
    super(`Invalid database name "${name}": use letters, digits and underscores`);
    this.name = "InvalidNameError";
  }
}

/** A node the helper is not managing. */
export class UnknownNodeError extends Error {
  constructor(name: string) {
    super(`Node "${name}" is not part of this central store`);
    this.name = "UnknownNodeError";
  }
}

/** A Galera position, `uuid:seqno`. */
interface Position {
  uuid: string;
  seqno: number;
}

/** The parts of `grastate.dat` that decide which node bootstraps. */
export interface GraState {
  uuid: string;
  seqno: number;
  safeToBootstrap: boolean;
}

/**
 * Reads a node's `grastate.dat` (undefined when the node never joined).
 *
 * @example
 * ```ts
 * const state = await readGraState(cluster.nodes[0]);
 * if (state?.safeToBootstrap) console.log("node 1 left last");
 * ```
 */
export async function readGraState(node: CentralNode): Promise<GraState | undefined> {
  let text;
  try {
    text = await Deno.readTextFile(join(node.datadir, "grastate.dat"));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  const field = (key: string) => text.match(new RegExp(`^${key}:\\s*(\\S+)`, "m"))?.[1] ?? "";
  return {
    uuid: field("uuid"),
    seqno: Number(field("seqno") || -1),
    safeToBootstrap: field("safe_to_bootstrap") === "1",
  };
}

/**
 * Starts a Galera cluster: node 1 with `--wsrep-new-cluster`, then each of
 * the others once the one before is `Synced` (rsync SST). Stops everything
 * again if any node fails to come up.
 *
 * @example
 * ```ts
 * await using cluster = await startCluster({ nodes: 3 });
 * await cluster.kill(cluster.nodes[1]);
 * await cluster.restart(cluster.nodes[1]);
 * ```
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Central> {
  const missing = missingForGalera();
  if (missing) throw new NotInstalledError(missing);
  const count = options.nodes ?? 3;
  const name = options.name ?? "conntracker-central";
  const dir = await Deno.makeTempDir({ prefix: "conntracker-galera-", dir: options.parent });
  const store = new CentralStore("galera", dir, name);
  try {
    const ports = await probePorts(count * 4);
    const gcomm = Array.from({ length: count }, (_, i) => ports[i * 4 + 1]);
    const address = `gcomm://${gcomm.map((p) => `127.0.0.1:${p}`).join(",")}`;
    for (let i = 0; i < count; i++) {
      const [port, g, ist, sst] = ports.slice(i * 4, i * 4 + 4);
      const node = store.addNode(port, { gcomm: g, ist, sst });
      await prepareNode(node, [
        "binlog_format=ROW",
        "innodb_autoinc_lock_mode=2",
        "wsrep_on=ON",
        `wsrep_provider=${PROVIDER}`,
        `wsrep_cluster_name=${name}`,
        `wsrep_cluster_address=${address}`,
        `wsrep_node_name=${node.name}`,
        `wsrep_node_address=127.0.0.1:${g}`,
        `wsrep_node_incoming_address=127.0.0.1:${port}`,
        `wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:${g};` +
        `ist.recv_addr=127.0.0.1:${ist};gcache.size=64M"`,
        "wsrep_sst_method=rsync",
        `wsrep_sst_receive_address=127.0.0.1:${sst}`,
        "wsrep_sst_auth=root:",
        ...options.config ?? [],
      ]);
    }
    await chownToMysql(dir);
    await installDb(store.nodes[0]);
    await store.startAll();
    return store;
  } catch (e) {
    await store.stop();
    throw e;
  }
}

/**
 * Starts one plain MariaDB server (no Galera) as the central store of a small
 * site. Same handle as a cluster, with a single node.
 *
 * @example
 * ```ts
 * await using central = await startCentral();
 * const account = await central.createDatabaseUser({ database: "fleet", user: "pusher" });
 * ```
 */
export async function startCentral(options: CentralOptions = {}): Promise<Central> {
  if (!MARIADBD) throw new NotInstalledError("mariadbd");
  const dir = await Deno.makeTempDir({ prefix: "conntracker-central-" });
  const store = new CentralStore("plain", dir, undefined);
  try {
    const [port] = await probePorts(1);
    const node = store.addNode(port, undefined);
    await prepareNode(node, options.config ?? []);
    await chownToMysql(dir);
    await installDb(node);
    await store.startAll();
    return store;
  } catch (e) {
    await store.stop();
    throw e;
  }
}

/**
 * Creates the node's directories and its option file: what every node shares
 * (loopback only, small, run as `mysql`), then `more`.
 */
async function prepareNode(node: CentralNode, more: string[]): Promise<void> {
  await Deno.mkdir(node.datadir, { recursive: true });
  await Deno.mkdir(node.tmpdir);
  await Deno.writeTextFile(node.configFile, optionFile(node, more));
}

function optionFile(node: CentralNode, more: string[]): string {
  return [
    "[mariadbd]",
    "user=mysql",
    `datadir=${node.datadir}`,
    `socket=${node.socket}`,
    `port=${node.port}`,
    "bind-address=127.0.0.1",
    `pid-file=${join(node.dir, "mariadbd.pid")}`,
    `log-error=${node.errorLog}`,
    // Not /tmp: temporary tables of servers other tests start there would collide.
    `tmpdir=${node.tmpdir}`,
    "skip-name-resolve",
    "default_storage_engine=InnoDB",
    "innodb_buffer_pool_size=64M",
    // A killed process loses nothing with 2 (the OS has the log); only fewer fsyncs.
    "innodb_flush_log_at_trx_commit=2",
    ...more,
    "",
  ].join("\n");
}

/** Probes `count` distinct free TCP ports on 127.0.0.1, below the ephemeral range. */
async function probePorts(count: number): Promise<number[]> {
  const range = await Deno.readTextFile("/proc/sys/net/ipv4/ip_local_port_range").catch(() => "");
  const ephemeralLow = Number(range.trim().split(/\s+/)[0]) || 32768;
  const low = 10_000;
  const span = ephemeralLow - low - count * 20;
  const held: Deno.Listener[] = [];
  try {
    let port = low + Math.floor(Math.random() * span);
    while (held.length < count && port < ephemeralLow) {
      try {
        held.push(Deno.listen({ hostname: "127.0.0.1", port }));
      } catch {
        // In use: try the next one.
      }
      port++;
    }
  } finally {
    for (const l of held) l.close();
  }
  if (held.length < count) throw new Error(`Found only ${held.length} of ${count} free ports`);
  return held.map((l) => (l.addr as Deno.NetAddr).port);
}

async function run(command: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) || new TextDecoder().decode(out.stdout);
    throw new Error(`${command} failed: ${text.trim()}`);
  }
}

async function installDb(node: CentralNode): Promise<void> {
  await run("mariadb-install-db", [
    "--no-defaults",
    "--user=mysql",
    `--datadir=${node.datadir}`,
    `--tmpdir=${node.tmpdir}`,
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
  ]);
}

async function chownToMysql(dir: string): Promise<void> {
  await run("chown", ["-R", "mysql:mysql", dir]);
}

/** The `[ERROR]` lines of an error log and its last lines: what a failed start needs. */
async function tail(file: string): Promise<string> {
  const lines = (await Deno.readTextFile(file).catch(() => "(no error log)")).split("\n");
  const last = lines.slice(-20);
  const errors = lines.slice(0, -20).filter((l) => l.includes("[ERROR]")).slice(-10);
  return [...errors, ...last].join("\n");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The PIDs of processes whose command line names `dir`: SST scripts, rsync daemons, recovery. */
async function strays(dir: string): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    try {
      const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
      if (cmdline.replaceAll("\0", " ").includes(dir)) found.push(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

function killPid(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Whether a node is synced and in the same primary view as its running peers,
 * with all they had committed. A thawed node still says `Synced` until it
 * notices that the others dropped it: the view and the seqno tell.
 */
function isSyncedWith(node: Record<string, string>, peers: Record<string, string>[]): boolean {
  return node.wsrep_local_state_comment === "Synced" && node.wsrep_ready === "ON" &&
    node.wsrep_cluster_status === "Primary" &&
    peers.every((peer) =>
      peer.wsrep_cluster_conf_id === node.wsrep_cluster_conf_id &&
      Number(peer.wsrep_last_committed) <= Number(node.wsrep_last_committed)
    );
}

/** A node and its process. */
class Node implements CentralNode {
  readonly host = "127.0.0.1";
  readonly name: string;
  readonly dir: string;
  readonly datadir: string;
  readonly tmpdir: string;
  readonly socket: string;
  readonly configFile: string;
  readonly errorLog: string;
  child: Deno.ChildProcess | undefined;
  exited: Promise<Deno.CommandStatus> | undefined;
  frozen = false;

  constructor(
    root: string,
    readonly index: number,
    readonly port: number,
    readonly galera: { gcomm: number; ist: number; sst: number } | undefined,
  ) {
    this.name = `node${index}`;
    this.dir = join(root, this.name);
    this.datadir = join(this.dir, "data");
    this.tmpdir = join(this.dir, "tmp");
    this.socket = join(this.dir, "mariadbd.sock");
    this.configFile = join(this.dir, "my.cnf");
    this.errorLog = join(this.dir, "error.log");
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
}

class CentralStore implements Central {
  readonly nodes: Node[] = [];
  #stopped = false;
  readonly #onUnload = () => this.#killNow();

  constructor(
    readonly kind: "galera" | "plain",
    readonly dir: string,
    readonly clusterName: string | undefined,
  ) {
    // Last resort when the test process exits without reaching stop().
    globalThis.addEventListener("unload", this.#onUnload);
  }

  addNode(port: number, galera: Node["galera"]): Node {
    const node = new Node(this.dir, this.nodes.length + 1, port, galera);
    this.nodes.push(node);
    return node;
  }

  #own(node: CentralNode): Node {
    const own = this.nodes[node.index - 1];
    if (own !== node) throw new UnknownNodeError(node.name);
    return own;
  }

  async sql(node: CentralNode, query: string, values?: unknown[]): Promise<Row[]> {
    return await this.#query(node, query, values, { connect: 10_000, query: 60_000 });
  }

  async #query(
    node: CentralNode,
    query: string,
    values: unknown[] | undefined,
    timeouts: { connect: number; query: number },
  ): Promise<Row[]> {
    const conn = await mysql.createConnection({
      socketPath: node.socket,
      user: "root",
      password: "",
      connectTimeout: timeouts.connect,
    });
    try {
      const [result] = await conn.query({ sql: query, values, timeout: timeouts.query });
      await conn.end();
      return Array.isArray(result) ? result as Row[] : [];
    } catch (e) {
      // After a timeout the connection is unusable; do not wait for it.
      conn.destroy();
      throw e;
    }
  }

  async createDatabaseUser(options: DatabaseUserOptions): Promise<DatabaseUser> {
    if (!/^\w+$/.test(options.database)) throw new InvalidNameError(options.database);
    const node = this.#serving();
    const hosts = options.hosts ?? ["127.0.0.1", "localhost"];
    const privileges = options.privileges ??
      "SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX";
    const password = crypto.randomUUID().replaceAll("-", "");
    await this.sql(node, `CREATE DATABASE IF NOT EXISTS \`${options.database}\``);
    for (const host of hosts) {
      await this.sql(node, "CREATE USER ?@? IDENTIFIED BY ?", [options.user, host, password]);
      await this.sql(node, `GRANT ${privileges} ON \`${options.database}\`.* TO ?@?`, [
        options.user,
        host,
      ]);
    }
    const secrets = join(this.dir, "secrets");
    await Deno.mkdir(secrets, { recursive: true, mode: 0o700 });
    const passwordFile = join(secrets, `${options.user}.password`);
    await Deno.writeTextFile(passwordFile, `${password}\n`, { mode: 0o600 });
    return { database: options.database, user: options.user, hosts, password, passwordFile };
  }

  /** A running, unfrozen node to run administrative SQL on. */
  #serving(): Node {
    const node = this.nodes.find((n) => n.child && !n.frozen);
    if (!node) throw new Error("No node of the central store is running");
    return node;
  }

  async waitSynced(node: CentralNode, timeoutMs = START_TIMEOUT_MS): Promise<void> {
    const own = this.#own(node);
    const deadline = Date.now() + timeoutMs;
    let last = "no answer";
    while (Date.now() < deadline) {
      if (!own.child) throw new ServerStartError(own.name, "is not running");
      const exit = await Promise.race([own.exited, sleep(0).then(() => undefined)]);
      if (exit) {
        own.child = undefined;
        throw new ServerStartError(
          own.name,
          `exited with code ${exit.code}`,
          await tail(own.errorLog),
        );
      }
      try {
        if (this.kind === "plain") {
          await this.#query(own, "SELECT 1", undefined, { connect: 2000, query: 2000 });
          return;
        }
        // Peers first: the node must have reached what they had committed by then.
        const peers = await Promise.all(
          this.nodes.filter((n) => n !== own && n.child && !n.frozen).map((n) => this.#status(n)),
        );
        const status = await this.#status(own);
        last = `${status.wsrep_local_state_comment}, ${status.wsrep_cluster_status}, ` +
          `wsrep_ready ${status.wsrep_ready}, view ${status.wsrep_cluster_conf_id}, ` +
          `seqno ${status.wsrep_last_committed}`;
        if (isSyncedWith(status, peers)) return;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(200);
    }
    throw new ServerStartError(
      own.name,
      `was not synced after ${timeoutMs} ms (last: "${last}")`,
      await tail(own.errorLog),
    );
  }

  /** The node's `wsrep_%` status variables. */
  async #status(node: Node): Promise<Record<string, string>> {
    const rows = await this.#query(node, "SHOW STATUS LIKE 'wsrep%'", undefined, {
      connect: 2000,
      query: 2000,
    });
    return Object.fromEntries(rows.map((r) => [String(r.Variable_name), String(r.Value)]));
  }

  #spawn(node: Node, args: string[]): void {
    node.child = new Deno.Command(MARIADBD!, {
      args: [`--defaults-file=${node.configFile}`, ...args],
      env: { TZ: "UTC" },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    node.exited = node.child.status;
    node.frozen = false;
  }

  async #signalAndWait(node: Node, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    if (!node.child) return;
    if (node.frozen && signal === "SIGTERM") killPid(node.child.pid, "SIGCONT");
    killPid(node.child.pid, signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = await Promise.race([
      node.exited,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), SHUTDOWN_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!done) {
      killPid(node.child.pid, "SIGKILL");
      await node.exited;
    }
    node.child = undefined;
    node.frozen = false;
    for (const pid of await strays(node.dir + "/")) killPid(pid, "SIGKILL");
  }

  async kill(node: CentralNode): Promise<void> {
    await this.#signalAndWait(this.#own(node), "SIGKILL");
  }

  async shutdown(node: CentralNode): Promise<void> {
    await this.#signalAndWait(this.#own(node), "SIGTERM");
  }

  freeze(node: CentralNode): void {
    const own = this.#own(node);
    if (!own.child) throw new Error(`Node "${own.name}" is not running`);
    killPid(own.child.pid, "SIGSTOP");
    own.frozen = true;
  }

  thaw(node: CentralNode): void {
    const own = this.#own(node);
    if (!own.child) throw new Error(`Node "${own.name}" is not running`);
    killPid(own.child.pid, "SIGCONT");
    own.frozen = false;
  }

  async restart(node: CentralNode): Promise<void> {
    const own = this.#own(node);
    await this.#signalAndWait(own, "SIGTERM");
    if (this.kind === "galera") {
      await this.#waitDropped(own);
      const position = await this.#recover(own);
      this.#spawn(
        own,
        position ? [`--wsrep-start-position=${position.uuid}:${position.seqno}`] : [],
      );
    } else {
      this.#spawn(own, []);
    }
    await this.waitSynced(own);
  }

  /**
   * Waits (at most 30 s) until no running node still counts `node` in its
   * cluster: joining before that takes much longer.
   */
  async #waitDropped(node: Node): Promise<void> {
    const others = this.nodes.filter((n) => n !== node && n.child);
    const deadline = Date.now() + 30_000;
    for (const other of others.filter((n) => !n.frozen)) {
      while (Date.now() < deadline) {
        const status = await this.#status(other).catch(() => undefined);
        if (status && Number(status.wsrep_cluster_size) <= others.length) break;
        await sleep(200);
      }
    }
  }

  /** The node's last committed position, from `mariadbd --wsrep-recover`. */
  async #recover(node: Node): Promise<Position | undefined> {
    const log = join(node.dir, "recover.log");
    await Deno.remove(log).catch(() => {});
    await new Deno.Command(MARIADBD!, {
      args: [`--defaults-file=${node.configFile}`, "--wsrep-recover", `--log-error=${log}`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    const text = await Deno.readTextFile(log).catch(() => "");
    const found = text.match(/WSREP: Recovered position: ([0-9a-f-]{36}):(-?\d+)/);
    if (!found || Number(found[2]) < 0) return undefined;
    return { uuid: found[1], seqno: Number(found[2]) };
  }

  async stopAll(options: StopAllOptions = {}): Promise<void> {
    const running = this.nodes.filter((n) => n.child);
    if (options.signal === "SIGKILL") {
      await Promise.all(running.map((n) => this.#signalAndWait(n, "SIGKILL")));
      return;
    }
    for (const node of running.reverse()) await this.#signalAndWait(node, "SIGTERM");
  }

  async startAll(): Promise<CentralNode | undefined> {
    const stopped = this.nodes.filter((n) => !n.child);
    if (this.kind === "plain" || stopped.length < this.nodes.length) {
      for (const node of stopped) await this.restart(node);
      return undefined;
    }
    const first = await this.#bootstrapNode();
    const position = await this.#recover(first);
    this.#spawn(first, [
      "--wsrep-new-cluster",
      ...position ? [`--wsrep-start-position=${position.uuid}:${position.seqno}`] : [],
    ]);
    await this.waitSynced(first);
    for (const node of this.nodes) if (node !== first) await this.restart(node);
    return first;
  }

  /** The node marked safe to bootstrap, or else the most advanced one (then marked). */
  async #bootstrapNode(): Promise<Node> {
    const states = await Promise.all(this.nodes.map(readGraState));
    if (states.every((s) => s === undefined)) return this.nodes[0];
    const safe = this.nodes.find((_, i) => states[i]?.safeToBootstrap);
    if (safe) return safe;
    let best = this.nodes[0];
    let bestSeqno = -2;
    for (const node of this.nodes) {
      const seqno = (await this.#recover(node))?.seqno ?? -1;
      if (seqno > bestSeqno) [best, bestSeqno] = [node, seqno];
    }
    const file = join(best.datadir, "grastate.dat");
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(
      file,
      text.replace(/^safe_to_bootstrap:.*$/m, "safe_to_bootstrap: 1"),
    );
    return best;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    globalThis.removeEventListener("unload", this.#onUnload);
    await Promise.all(this.nodes.map((n) => this.#signalAndWait(n, "SIGKILL")));
    for (const pid of await strays(this.dir + "/")) killPid(pid, "SIGKILL");
    await Deno.remove(this.dir, { recursive: true });
  }

  /** Synchronous cleanup for `unload`: no promise would be awaited there. */
  #killNow(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const node of this.nodes) if (node.child) killPid(node.child.pid, "SIGKILL");
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch {
      // Best effort at exit.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
