/**
 * The push: after a run has committed (or as `conntracker push`), send the
 * central store what changed since the change it last acknowledged for this
 * server, as absolute values, and make it acknowledge the new change number.
 *
 * - What is sent: the central's `servers` row says which incarnation and
 *   change number it acknowledged; when both equal what this database
 *   recorded after its last push, only rows with a later change number go;
 *   otherwise (a new or recreated database, one restored from an older copy,
 *   a central store restored or replaced, an acknowledgement that was lost)
 *   every row goes again.
 * - How it merges: counts and latest times with `GREATEST`, first logins with
 *   `LEAST`, so a repeated or half-done push changes nothing, and counts of a
 *   restored database that went backwards never lower what the central
 *   already had: the central keeps, per server, the highest each count ever
 *   reached.
 * - Rows go in chunks, each its own transaction, retried on 1213/1205 with
 *   backoff; a host that fails (1047, lost, silent) hands over to the next
 *   one; the acknowledgement is the last transaction, after every chunk.
 * - Everything is bounded by one deadline; a failed push leaves the next
 *   one to send what is still pending.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Config } from "../config.ts";
import { type Account, accountKey } from "../format/account.ts";
import { type ChangeSet, readChangeSet, readPushState, recordAck } from "../store/changes.ts";
import { openStore, openStoreReadOnly, type Store, StoreError } from "../store/database.ts";
import {
  CentralError,
  connect,
  type Deadline,
  describe,
  isHostFailure,
  isRetryable,
  left,
  type Link,
  passed,
  query,
  type Row,
  TIMEOUTS,
  type Timeouts,
} from "./connect.ts";
import { askLocalServer, type LocalServer } from "./local_server.ts";
import { COLUMN_LIMITS, migrateCentral } from "./schema.ts";

/** What one push did. */
export interface PushSummary {
  serverId: string;
  /** The cluster pushed; `undefined` when the local server could not be asked (the central keeps what it had). */
  cluster?: string;
  /** The central store acknowledged this push. */
  ok: boolean;
  /** Every row was sent (the central's acknowledgement did not match this database's). */
  full: boolean;
  /** Rows written to the central store: activity, proxy logins, losses and defined accounts. */
  rowsSent: number;
  activityRows: number;
  proxyRows: number;
  lossRows: number;
  accountRows: number;
  /** Rows too long for the central columns, not sent. */
  skippedRows: number;
  /** The change number the central store acknowledged. */
  ackedSeq?: number;
  /** The host that took the acknowledgement (or the last one tried). */
  host?: string;
  /** Transactions retried after 1213/1205. */
  retries: number;
  /** Times a host failed and the next was tried. */
  failovers: number;
  ms: number;
  /** Why it failed, or what it could not do (the local server's accounts). */
  problems: string[];
}

/** The inputs of a push. */
export interface PushOptions {
  /** A config with a `[central]` section. */
  config: Config;
  /** The clock, epoch milliseconds (default `Date.now`). */
  now?: () => number;
  /** Default {@link TIMEOUTS}. */
  timeouts?: Timeouts;
}

/** Rows per statement and per transaction. */
const CHUNK = 1000;

/** The wait before trying the hosts again when none was in the Primary Component. */
const TRANSIENT_WAIT_MS = 1_000;

/** How long the local server's client may take to answer, in milliseconds. */
const LOCAL_SERVER_MS = 5_000;

/** At most this many tries of one transaction on 1213/1205. */
const MAX_TRIES = 8;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What the central store holds about this server before the push. */
interface Acknowledged {
  incarnation: string;
  ackedSeq: number;
  accountsHash?: string;
}

/** The connection of a push: made when first needed, replaced by the next host when one fails. */
class Session {
  #link: Link | undefined;
  #from = 0;
  #migrated = false;
  constructor(
    readonly config: Config["central"] & object,
    readonly deadline: Deadline,
    readonly timeouts: Timeouts,
    readonly summary: PushSummary,
  ) {}

  async link(): Promise<Link> {
    if (this.#link) return this.#link;
    let link: Link;
    for (;;) {
      try {
        link = await connect(this.config, {
          deadline: this.deadline,
          timeouts: this.timeouts,
          from: this.#from,
        });
        break;
      } catch (e) {
        // A cluster forming its new view answers again within seconds; one that is down does not.
        const wait = TRANSIENT_WAIT_MS;
        if (!(e instanceof CentralError && e.transient) || left(this.deadline) < 2 * wait) throw e;
        await sleep(wait);
      }
    }
    this.#link = link;
    this.summary.host = link.host.text;
    if (!this.#migrated) {
      try {
        await migrateCentral(link, this.deadline);
      } catch (e) {
        if (!isHostFailure(e) || passed(this.deadline)) throw e;
        this.fail();
        return await this.link();
      }
      this.#migrated = true;
    }
    return link;
  }

  /** Gives the current host up: the next connection starts at the next one. */
  fail(): void {
    if (!this.#link) return;
    this.#link.conn.destroy();
    this.#from = this.#link.index + 1;
    this.#link = undefined;
    this.summary.failovers++;
  }

  /** Runs `fn` in a transaction, retried on 1213/1205, on the next host when one fails. */
  transaction<T>(fn: (link: Link) => Promise<T>): Promise<T> {
    return this.attempt(async (link) => {
      await query(link, "START TRANSACTION", [], this.deadline);
      const result = await fn(link);
      await query(link, "COMMIT", [], this.deadline);
      return result;
    });
  }

  /** Runs `fn`, again on the next host when one fails, again after 1213/1205 (rolled back). */
  async attempt<T>(fn: (link: Link) => Promise<T>): Promise<T> {
    for (let tries = 1;; tries++) {
      const link = await this.link();
      try {
        return await fn(link);
      } catch (e) {
        if (isHostFailure(e) && !passed(this.deadline)) {
          this.fail();
          continue;
        }
        await query(link, "ROLLBACK", [], this.deadline).catch(() => this.fail());
        if (isRetryable(e) && tries < MAX_TRIES && !passed(this.deadline)) {
          this.summary.retries++;
          await sleep(Math.min(2 ** tries * 25 + Math.random() * 50, 2000));
          continue;
        }
        throw e;
      }
    }
  }

  close(): void {
    const link = this.#link;
    this.#link = undefined;
    if (link) link.conn.end().catch(() => link.conn.destroy());
  }

  destroy(): void {
    this.#link?.conn.destroy();
    this.#link = undefined;
  }
}

function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += CHUNK) out.push(rows.slice(i, i + CHUNK));
  return out;
}

function fits(text: string, limit: number): boolean {
  return [...text].length <= limit;
}

/** `GREATEST` and `LEAST` that keep the non-NULL side (`GREATEST(NULL, 5)` is NULL). */
function keep(fn: "GREATEST" | "LEAST", column: string): string {
  return `${column} = ${fn}(COALESCE(${column}, VALUES(${column})), ` +
    `COALESCE(VALUES(${column}), ${column}))`;
}

const ACTIVITY_UPSERT = `INSERT INTO activity (server_id, name, host, logins, first_login_ms,
    last_login_ms, failed_attempts, last_failed_ms) VALUES ? ON DUPLICATE KEY UPDATE
    logins = GREATEST(logins, VALUES(logins)),
    failed_attempts = GREATEST(failed_attempts, VALUES(failed_attempts)),
    ${keep("LEAST", "first_login_ms")}, ${keep("GREATEST", "last_login_ms")},
    ${keep("GREATEST", "last_failed_ms")}`;

const LOSS_UPSERT = `INSERT INTO losses (server_id, detected_ms, fingerprint, path, unread_bytes,
    from_ms, to_ms) VALUES ? ON DUPLICATE KEY UPDATE unread_bytes = VALUES(unread_bytes)`;

const PROXY_UPSERT = `INSERT INTO proxy_logins (server_id, name, host, proxied_user, proxied_host,
    logins, last_login_ms) VALUES ? ON DUPLICATE KEY UPDATE
    logins = GREATEST(logins, VALUES(logins)),
    last_login_ms = GREATEST(last_login_ms, VALUES(last_login_ms))`;

/** The rows of a change set as the central statements take them; too long ones counted apart. */
function centralRows(serverId: string, changes: ChangeSet, summary: PushSummary) {
  const L = COLUMN_LIMITS;
  const activity = changes.activity.filter((a) => fits(a.user, L.user) && fits(a.host, L.host))
    .map((a) => [
      serverId,
      a.user,
      a.host,
      a.logins,
      a.firstLogin ?? null,
      a.lastLogin ?? null,
      a.failed,
      a.lastFailed ?? null,
    ]);
  const proxies = changes.proxies.filter((p) =>
    fits(p.user, L.user) && fits(p.host, L.proxyHost) && fits(p.proxiedUser, L.user) &&
    fits(p.proxiedHost, L.host)
  ).map((p) => [serverId, p.user, p.host, p.proxiedUser, p.proxiedHost, p.logins, p.lastLogin]);
  summary.skippedRows = changes.activity.length - activity.length +
    changes.proxies.length - proxies.length;
  const losses = changes.losses.map((l) => [
    serverId,
    l.detectedMs,
    l.fingerprint,
    [...l.path].slice(0, 1024).join(""),
    l.unreadBytes,
    l.fromMs ?? null,
    l.toMs,
  ]);
  return { activity, proxies, losses };
}

/**
 * A digest of a set of accounts, whatever their order: a push sends the
 * accounts only when it differs from what the central store has.
 *
 * @example
 * ```ts
 * const a = { user: "app", host: "%" }, b = { user: "ops", host: "localhost" };
 * accountsDigest([a, b]) === accountsDigest([b, a]); // true
 * ```
 */
export function accountsDigest(accounts: Account[]): string {
  const keys = [...new Set(accounts.map((a) => accountKey(a.user, a.host)))].sort();
  return createHash("sha256").update(keys.join("\n")).digest("hex");
}

async function acknowledged(
  link: Link,
  serverId: string,
  deadline: Deadline,
  lock: boolean,
): Promise<Acknowledged | undefined> {
  const rows = await query(
    link,
    `SELECT incarnation, acked_seq, accounts_hash FROM servers WHERE server_id = ?${
      lock ? " FOR UPDATE" : ""
    }`,
    [serverId],
    deadline,
  );
  const r: Row | undefined = rows[0];
  if (!r) return undefined;
  const found: Acknowledged = { incarnation: String(r.incarnation), ackedSeq: Number(r.acked_seq) };
  if (r.accounts_hash != null) found.accountsHash = String(r.accounts_hash);
  return found;
}

function same(a: Acknowledged | undefined, b: Acknowledged | undefined): boolean {
  return a?.incarnation === b?.incarnation && a?.ackedSeq === b?.ackedSeq;
}

/** This machine's host name, the default server id. */
function hostName(): string {
  try {
    return Deno.hostname();
  } catch (e) {
    throw new CentralError(`ServerId is not set and the host name cannot be read: ${e}`, {
      cause: e,
    });
  }
}

function openForPush(config: Config, deadline: Deadline): Store {
  const times = { layout: config.timeFormatDb, zone: config.timeLocation };
  const lockTimeoutMs = Math.min(5_000, Math.max(1, deadline.at - deadline.now()));
  // Read-only first: a push never creates the database.
  openStoreReadOnly(config.sqlitePath, times).db.close();
  const store = openStore(config.sqlitePath, { lockTimeoutMs, times });
  const state = readPushState(store);
  if (state.incarnation === "") {
    store.db.close();
    throw new StoreError(config.sqlitePath, "Database has nothing to push yet: run conntracker");
  }
  return store;
}

/** The push itself; `session` and `store` are closed by the caller. */
async function pushWith(
  config: Config,
  session: Session,
  summary: PushSummary,
  opened: { store?: Store },
): Promise<void> {
  const central = config.central!;
  const { deadline } = session;
  const client = { client: config.mariadbClient, defaultsFile: config.mariadbDefaultsFile };
  const store = opened.store = openForPush(config, deadline);
  const local = readPushState(store);
  // One login to the local server (5 s at most: it may be as frozen as any).
  let server: LocalServer | undefined;
  let accountsReadMs: number | undefined;
  if (central.cluster === undefined || central.pushAccounts) {
    const answer = await askLocalServer(client, {
      accounts: central.pushAccounts,
      timeoutMs: Math.min(LOCAL_SERVER_MS, left(deadline)),
    });
    if (answer.ok) [server, accountsReadMs] = [answer.value, deadline.now()];
    else if (central.pushAccounts) {
      summary.problems.push(`the local server's accounts were not read: ${answer.problem}`);
    }
  }
  if (central.cluster === undefined && server) summary.cluster = server.cluster;
  const defined: Account[] | undefined = server?.accounts;
  const before = await session.attempt((link) =>
    acknowledged(link, summary.serverId, deadline, false)
  );
  const mine: Acknowledged | undefined = local.ackedSeq === undefined
    ? undefined
    : { incarnation: local.incarnation, ackedSeq: local.ackedSeq };
  const incremental = before !== undefined && same(before, mine);
  summary.full = !incremental;
  const changes = readChangeSet(store, incremental ? local.ackedSeq : undefined);
  const rows = centralRows(summary.serverId, changes, summary);
  for (const chunk of chunks(rows.activity)) {
    await session.transaction((link) => query(link, ACTIVITY_UPSERT, [chunk], deadline));
    summary.activityRows += chunk.length;
  }
  for (const chunk of chunks(rows.proxies)) {
    await session.transaction((link) => query(link, PROXY_UPSERT, [chunk], deadline));
    summary.proxyRows += chunk.length;
  }
  for (const chunk of chunks(rows.losses)) {
    await session.transaction((link) => query(link, LOSS_UPSERT, [chunk], deadline));
    summary.lossRows += chunk.length;
  }
  const digest = defined && accountsDigest(defined);
  const sendAccounts = defined !== undefined && (summary.full || digest !== before?.accountsHash);
  const target = { incarnation: changes.state.incarnation, ackedSeq: changes.state.changeSeq };
  const acked = await session.transaction(async (link) => {
    const now = await acknowledged(link, summary.serverId, deadline, true);
    if (!same(now, before)) {
      // An earlier try of this transaction committed although its client saw an error?
      return !same(before, target) && same(now, target);
    }
    if (sendAccounts) {
      await query(link, "DELETE FROM defined_accounts WHERE server_id = ?", [
        summary.serverId,
      ], deadline);
      const list = defined!.filter((a) => fits(a.user, COLUMN_LIMITS.user));
      for (const chunk of chunks(list)) {
        await query(link, "INSERT INTO defined_accounts (server_id, name, host) VALUES ?", [
          chunk.map((a) => [summary.serverId, a.user, a.host]),
        ], deadline);
      }
    }
    await query(
      link,
      `INSERT INTO servers (server_id, cluster, incarnation, acked_seq, watched_since_ms,
         data_until_ms, pushed_ms, accounts_hash, accounts_read_ms, name_resolution,
         self_user, self_host, client_user, client_host)
       VALUES (?, COALESCE(?, ''), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE
         cluster = IF(? IS NULL, cluster, VALUES(cluster)),
         incarnation = VALUES(incarnation), acked_seq = VALUES(acked_seq),
         watched_since_ms = VALUES(watched_since_ms), data_until_ms = VALUES(data_until_ms),
         pushed_ms = VALUES(pushed_ms),
         accounts_hash = COALESCE(VALUES(accounts_hash), accounts_hash),
         accounts_read_ms = COALESCE(VALUES(accounts_read_ms), accounts_read_ms),
         name_resolution = COALESCE(VALUES(name_resolution), name_resolution),
         self_user = COALESCE(VALUES(self_user), self_user),
         self_host = COALESCE(VALUES(self_host), self_host),
         client_user = COALESCE(VALUES(client_user), client_user),
         client_host = COALESCE(VALUES(client_host), client_host)`,
      [
        summary.serverId,
        summary.cluster ?? null,
        changes.state.incarnation,
        changes.state.changeSeq,
        changes.watchedSinceMs ?? null,
        changes.dataUntilMs ?? null,
        deadline.now(),
        digest ?? null,
        // When the accounts were read: the cluster alone says nothing of them.
        defined ? accountsReadMs ?? null : null,
        server ? (server.resolvesNames ? "on" : "off") : null,
        server?.account.user ?? null,
        server?.account.host ?? null,
        server?.client.user ?? null,
        server?.client.host ?? null,
        summary.cluster ?? null,
      ],
      deadline,
    );
    return true;
  });
  if (sendAccounts) summary.accountRows = defined!.length;
  if (!acked) {
    summary.problems.push("another push of this server ran meanwhile: not acknowledged");
    return;
  }
  summary.ok = true;
  summary.ackedSeq = changes.state.changeSeq;
  try {
    recordAck(store, {
      incarnation: changes.state.incarnation,
      ackedSeq: changes.state.changeSeq,
      atMs: deadline.now(),
    });
  } catch (e) {
    // The next push sees the mismatch and sends everything again: slower, never wrong.
    summary.problems.push(`the acknowledgement was not recorded locally: ${describe(e)}`);
  }
}

/**
 * Pushes this server's changes to the central store of `config.central`.
 * Never throws for a central store that is down, slow, frozen or outside the
 * Primary Component: the summary says what happened, within the deadline
 * (plus a second at most).
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * const config = await loadConfig("/etc/conntracker/conntracker.ini");
 * const summary = await pushChanges({ config });
 * if (!summary.ok) console.error(summary.problems.join("; "));
 * ```
 */
export async function pushChanges(options: PushOptions): Promise<PushSummary> {
  const { config, now = Date.now, timeouts = TIMEOUTS } = options;
  const central = config.central;
  if (!central) throw new CentralError("The config has no [central] section");
  const started = now();
  const deadline: Deadline = { at: started + timeouts.deadlineMs, now };
  const summary: PushSummary = {
    serverId: central.serverId ?? "",
    cluster: central.cluster,
    ok: false,
    full: false,
    rowsSent: 0,
    activityRows: 0,
    proxyRows: 0,
    lossRows: 0,
    accountRows: 0,
    skippedRows: 0,
    retries: 0,
    failovers: 0,
    ms: 0,
    problems: [],
  };
  const session = new Session(central, deadline, timeouts, summary);
  const opened: { store?: Store } = {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    summary.serverId ||= hostName();
    const overdue = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new CentralError(`The push passed its deadline of ${timeouts.deadlineMs} ms`)),
        timeouts.deadlineMs + 1_000,
      );
    });
    const work = pushWith(config, session, summary, opened);
    // Past the deadline it is abandoned: its connection is destroyed, its failure not waited for.
    work.catch(() => {});
    await Promise.race([work, overdue]);
    session.close();
  } catch (e) {
    session.destroy();
    summary.ok = false;
    summary.problems.unshift(
      e instanceof CentralError || e instanceof StoreError ? e.message : describe(e),
    );
  } finally {
    clearTimeout(timer);
    opened.store?.db.close();
    summary.rowsSent = summary.activityRows + summary.proxyRows + summary.lossRows +
      summary.accountRows;
    summary.ms = now() - started;
  }
  return summary;
}
