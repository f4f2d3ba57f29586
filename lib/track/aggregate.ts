/**
 * Aggregation: turns audit records, in log order, into per-account activity.
 *
 * - `CONNECT` with retcode 0 is a login; with another retcode (older plugins)
 *   a failed attempt, as is `FAILED_CONNECT`.
 * - `CHANGEUSER` with a non-zero retcode is a failed attempt as the user it
 *   names. A successful one is a login at its own time. MariaDB 10.11 writes
 *   it with an empty user and host (its per-connection buffer is reset): the
 *   account is the one named on the next line of the same connection. Until
 *   that line is read it stays pending, also between runs; a `CONNECT` or
 *   `FAILED_CONNECT` on that connection id first means the server restarted,
 *   and drops it (as do a second change-user and a `DISCONNECT` naming
 *   nobody: that account is never named). A successful change-user line that
 *   names both a user and a host (other builds of the plugin may) is counted
 *   for that account at once and leaves nothing pending: the connection's
 *   next line, naming the same account, adds nothing, and a second
 *   change-user is a login of its own.
 * - `PROXY_CONNECT` records which account a proxy login was mapped to.
 * - A sign-in with an empty user but a host counts for `''@host`: a TCP
 *   health check (`FAILED_CONNECT` with an empty user) or an anonymous login.
 *   Other lines naming nobody are counted and skipped.
 *
 * @module
 */

import { accountKey, parseAccountName } from "../format/account.ts";
import { isSignIn } from "../format/operations.ts";
import { type AuditRecord, decodeBinary, stripPort } from "../format/record.ts";
import type { LocatedEvent } from "../format/scan.ts";
import { toBinary } from "../input/file.ts";
import { AccountTable, keyHash, type KeyRanges } from "./account_table.ts";

/** Logins of `user@host` that MariaDB mapped to the proxied account `proxyUser@proxyHost`. */
export interface ProxyActivity {
  user: string;
  host: string;
  proxiedUser: string;
  proxiedHost: string;
  logins: number;
  lastLogin: number;
}

/** A successful change-user whose account is not known yet. */
export interface PendingChangeUser {
  serverHost: string;
  connectionId: string;
  /** Its time, epoch milliseconds. */
  at: number;
}

/** Counters of a tally. */
export interface TallyCounts {
  logins: number;
  failed: number;
  changeUsersResolved: number;
  /** Pending change-users dropped: the server restarted, or a second one came first. */
  changeUsersDropped: number;
  emptyUser: number;
  badTimestamp: number;
}

/** Activity gathered so far, and the change-users still pending. */
export interface Tally {
  /** Every account counted, with its activity. */
  accounts: AccountTable;
  proxies: Map<string, ProxyActivity>;
  /** Keyed by {@link pendingKey}. */
  pending: Map<string, PendingChangeUser>;
  /** Connection ids with a pending change-user: their lines must be read. */
  watched: Set<string>;
  counts: TallyCounts;
  /** The server host of the last located event: its bytes (as a binary string), text and index. */
  server: { bytes: string; text: string; index: number };
}

/**
 * The key of a pending change-user.
 *
 * @example
 * ```ts
 * pendingKey("vm", "14"); // "vm\u000014"
 * ```
 */
export function pendingKey(serverHost: string, connectionId: string): string {
  return `${serverHost}\u0000${connectionId}`;
}

/**
 * Creates an empty tally that resumes the change-users pending from earlier runs.
 *
 * @example
 * ```ts
 * const tally = createTally([{ serverHost: "vm", connectionId: "14", at: 0 }]);
 * tally.watched.has("14"); // true
 * ```
 */
export function createTally(pending: PendingChangeUser[] = []): Tally {
  const tally: Tally = {
    accounts: new AccountTable(),
    proxies: new Map(),
    pending: new Map(),
    watched: new Set(),
    counts: {
      logins: 0,
      failed: 0,
      changeUsersResolved: 0,
      changeUsersDropped: 0,
      emptyUser: 0,
      badTimestamp: 0,
    },
    server: { bytes: "", text: "", index: -1 },
  };
  for (const p of pending) tally.pending.set(pendingKey(p.serverHost, p.connectionId), p);
  refreshWatched(tally);
  return tally;
}

function refreshWatched(tally: Tally): void {
  tally.watched.clear();
  for (const p of tally.pending.values()) tally.watched.add(p.connectionId);
}

function login(tally: Tally, user: string, host: string, serverHost: string, at: number): void {
  const { accounts } = tally;
  accounts.countLogin(accounts.indexOf(user, host, true), at, accounts.serverIndex(serverHost));
  tally.counts.logins++;
}

function failed(tally: Tally, user: string, host: string, serverHost: string, at: number): void {
  const { accounts } = tally;
  accounts.countFailed(accounts.indexOf(user, host, true), at, accounts.serverIndex(serverHost));
  tally.counts.failed++;
}

/**
 * What a record does to the change-user pending on its connection: `"drop"`
 * it (the server restarted, the connection ended naming nobody, or a second
 * change-user came first), `"resolve"` it (the record names the account), or
 * nothing (`undefined`: it stays pending).
 *
 * @example
 * ```ts
 * import { parseRecord } from "../format/record.ts";
 * settlesPending(parseRecord("t,vm,bob,h,14,9,QUERY,,'SELECT 1',0")!); // "resolve"
 * settlesPending(parseRecord("t,vm,,h,14,0,DISCONNECT,,,0")!); // "drop"
 * ```
 */
export function settlesPending(record: AuditRecord): "drop" | "resolve" | undefined {
  const { operation: op, user } = record;
  const failedChange = op === "CHANGEUSER" && record.retcode !== "0";
  const restarted = op === "CONNECT" || op === "FAILED_CONNECT";
  const ended = op === "DISCONNECT" && user === "";
  if (restarted || ended || (op === "CHANGEUSER" && !failedChange)) return "drop";
  if (user !== "" && !failedChange) return "resolve";
  return undefined;
}

/**
 * Whether a record is a successful change-user that does not name its
 * account (user and host), which stays pending until its connection does.
 *
 * @example
 * ```ts
 * import { parseRecord } from "../format/record.ts";
 * startsPending(parseRecord("t,vm,,,14,0,CHANGEUSER,,,0")!); // true
 * startsPending(parseRecord("t,vm,carol,localhost,14,0,CHANGEUSER,,,0")!); // false
 * ```
 */
export function startsPending(record: AuditRecord): boolean {
  const { operation, retcode, user, host } = record;
  return operation === "CHANGEUSER" && retcode === "0" && (user === "" || host === "");
}

/**
 * Applies one record, in log order. `instantOf` converts its timestamp to
 * epoch milliseconds, or `undefined` when the timestamp is not valid.
 *
 * @example
 * ```ts
 * import { parseRecord } from "../format/record.ts";
 * const tally = createTally();
 * applyRecord(tally, parseRecord("t,vm,bob,127.0.0.1,8,0,CONNECT,,,0")!, () => 1000);
 * tally.accounts.get("bob", "127.0.0.1")?.logins; // 1
 * ```
 */
export function applyRecord(
  tally: Tally,
  record: AuditRecord,
  instantOf: (timestamp: string) => number | undefined,
): void {
  const { operation: op, user, host, serverHost, retcode } = record;
  const key = pendingKey(serverHost, record.connectionId);
  const pending = tally.pending.get(key);
  if (pending) {
    const settled = settlesPending(record);
    if (settled) {
      tally.pending.delete(key);
      refreshWatched(tally);
    }
    if (settled === "drop") tally.counts.changeUsersDropped++;
    if (settled === "resolve") {
      login(tally, user, host, serverHost, pending.at);
      tally.counts.changeUsersResolved++;
    }
  }
  if (!isSignIn(op)) {
    if (user === "") tally.counts.emptyUser++;
    return;
  }
  const successful = retcode === "0";
  const starts = startsPending(record);
  if (user === "" && host === "" && !starts) {
    tally.counts.emptyUser++;
    return;
  }
  const at = instantOf(record.timestamp);
  if (at === undefined) {
    tally.counts.badTimestamp++;
    return;
  }
  if (starts) {
    tally.pending.set(key, { serverHost, connectionId: record.connectionId, at });
    tally.watched.add(record.connectionId);
  } else if (op === "PROXY_CONNECT") {
    const account = parseAccountName(record.object);
    if (!successful || !account) return;
    const pkey = `${accountKey(user, host)}\u0000${accountKey(account.user, account.host)}`;
    const p = tally.proxies.get(pkey) ??
      {
        user,
        host,
        proxiedUser: account.user,
        proxiedHost: account.host,
        logins: 0,
        lastLogin: at,
      };
    p.logins++;
    p.lastLogin = Math.max(p.lastLogin, at);
    tally.proxies.set(pkey, p);
  } else if (successful && (op === "CONNECT" || op === "CHANGEUSER")) {
    login(tally, user, host, serverHost, at);
  } else {
    failed(tally, user, host, serverHost, at);
  }
}

/** The text of a field of a located event: blanks around it dropped, decoded as UTF-8. */
function fieldText(bytes: Uint8Array, start: number, end: number): string {
  while (start < end && bytes[start] === 32) start++;
  while (end > start && bytes[end - 1] === 32) end--;
  return decodeBinary(toBinary(bytes, start, end));
}

/** Whether the bytes [start, end) are the binary string `text`. */
function isBinaryString(bytes: Uint8Array, start: number, end: number, text: string): boolean {
  if (end - start !== text.length) return false;
  for (let i = start; i < end; i++) if (bytes[i] !== text.charCodeAt(i - start)) return false;
  return true;
}

/** Whether the bytes [start, end) are all ASCII. */
function isAscii(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] > 127) return false;
  return true;
}

/**
 * The account of the located event being applied, as the record path names
 * it: user and host without the blanks around them, the host without its
 * port. Most lines have it as bytes of the line (`ranges`, `hash`); a
 * bracketed host, one with blanks around it, or bytes beyond ASCII (invalid
 * UTF-8 must read as U+FFFD, as it does as text) take its text instead.
 */
const located = {
  /** Its index in the table, or -1 while it has no activity. */
  index: -1,
  /** Whether `ranges` and `hash` name it, else `user` and `host`. */
  asBytes: true,
  ranges: { userStart: 0, userEnd: 0, hostStart: 0, hostEnd: 0 } as KeyRanges,
  hash: 0,
  user: "",
  host: "",
  userEmpty: false,
  hostEmpty: false,
};

/** Sets {@link located} to the account of `e`, without making an activity for it. */
function locate(tally: Tally, e: LocatedEvent): void {
  const { bytes } = e;
  const r = located.ranges;
  let userStart = e.serverEnd + 1, userEnd = e.userEnd;
  const hostStart = e.userEnd + 1;
  while (userStart < userEnd && bytes[userStart] === 32) userStart++;
  while (userEnd > userStart && bytes[userEnd - 1] === 32) userEnd--;
  const hostEdge = hostStart < e.hostEnd &&
    (bytes[hostStart] === 32 || bytes[hostStart] === 91 /* [ */ || bytes[e.hostEnd - 1] === 32);
  if (hostEdge || !isAscii(bytes, userStart, userEnd) || !isAscii(bytes, hostStart, e.keyEnd)) {
    located.asBytes = false;
    located.user = fieldText(bytes, e.serverEnd + 1, e.userEnd);
    located.host = stripPort(fieldText(bytes, hostStart, e.hostEnd));
    located.userEmpty = located.user === "";
    located.hostEmpty = located.host === "";
    located.index = tally.accounts.indexOf(located.user, located.host, false);
    return;
  }
  r.userStart = userStart;
  r.userEnd = userEnd;
  r.hostStart = hostStart;
  r.hostEnd = e.keyEnd;
  // The scanner hashed the bytes from the user's first on: the same unless blanks were dropped.
  const trimmed = userStart !== e.serverEnd + 1 || userEnd !== e.userEnd;
  located.asBytes = true;
  located.hash = trimmed ? keyHash(bytes, r) : e.keyHash;
  located.userEmpty = userStart === userEnd;
  located.hostEmpty = hostStart === e.keyEnd;
  located.index = tally.accounts.find(bytes, r, located.hash, false);
}

/** The index of the located event's account, its activity made if need be. */
function locatedIndex(tally: Tally, e: LocatedEvent): number {
  if (located.index === -1) {
    located.index = located.asBytes
      ? tally.accounts.find(e.bytes, located.ranges, located.hash, true)
      : tally.accounts.indexOf(located.user, located.host, true);
  }
  return located.index;
}

/** The server host of a located event: its text and index (the last one's, when its bytes are the same). */
function locatedServer(tally: Tally, e: LocatedEvent): { text: string; index: number } {
  const server = tally.server;
  // The first has no last one (index -1), even when its bytes are empty.
  const same = isBinaryString(e.bytes, e.serverStart, e.serverEnd, server.bytes);
  if (server.index === -1 || !same) {
    server.bytes = toBinary(e.bytes, e.serverStart, e.serverEnd);
    server.text = fieldText(e.bytes, e.serverStart, e.serverEnd);
    server.index = tally.accounts.serverIndex(server.text);
  }
  return server;
}

/** Stops watching a connection id when no change-user is pending on it any more. */
function unwatch(tally: Tally, connectionId: string): void {
  for (const p of tally.pending.values()) if (p.connectionId === connectionId) return;
  tally.watched.delete(connectionId);
}

/**
 * Applies a located line (see `scanBlock`) as {@link applyRecord} applies
 * its record, without making one: its account is found by its bytes, and
 * `instantOf` converts the timestamp's bytes. Returns `true`.
 *
 * @example
 * ```ts
 * // scanRange() passes it as the scan's `event` (see apply.ts).
 * ```
 */
export function applyEvent(
  tally: Tally,
  e: LocatedEvent,
  instantOf: (bytes: Uint8Array, start: number, end: number) => number | undefined,
): boolean {
  const { operation: op } = e;
  const { accounts, counts } = tally;
  locate(tally, e);
  const { userEmpty, hostEmpty } = located;
  const server = locatedServer(tally, e);
  let connectionId = "", key = "";
  if (e.watched) {
    connectionId = fieldText(e.bytes, e.hostEnd + 1, e.idEnd);
    key = pendingKey(server.text, connectionId);
    const pending = tally.pending.get(key);
    if (pending) {
      const failedChange = op === "CHANGEUSER" && !e.successful;
      const restarted = op === "CONNECT" || op === "FAILED_CONNECT";
      const ended = op === "DISCONNECT" && userEmpty;
      const drop = restarted || ended || (op === "CHANGEUSER" && !failedChange);
      const resolve = !drop && !userEmpty && !failedChange;
      if (drop || resolve) {
        tally.pending.delete(key);
        unwatch(tally, connectionId);
      }
      if (drop) counts.changeUsersDropped++;
      if (resolve) {
        accounts.countLogin(locatedIndex(tally, e), pending.at, server.index);
        counts.logins++;
        counts.changeUsersResolved++;
      }
    }
  }
  if (op === "" || op === "DISCONNECT") {
    if (userEmpty) counts.emptyUser++;
    return true;
  }
  const starts = op === "CHANGEUSER" && e.successful && (userEmpty || hostEmpty);
  if (userEmpty && hostEmpty && !starts) {
    counts.emptyUser++;
    return true;
  }
  const at = instantOf(e.bytes, e.start, e.timestampEnd);
  if (at === undefined) {
    counts.badTimestamp++;
    return true;
  }
  if (starts) {
    if (!e.watched) {
      connectionId = fieldText(e.bytes, e.hostEnd + 1, e.idEnd);
      key = pendingKey(server.text, connectionId);
    }
    tally.pending.set(key, { serverHost: server.text, connectionId, at });
    tally.watched.add(connectionId);
  } else if (e.successful && op !== "FAILED_CONNECT") {
    accounts.countLogin(locatedIndex(tally, e), at, server.index);
    counts.logins++;
  } else {
    accounts.countFailed(locatedIndex(tally, e), at, server.index);
    counts.failed++;
  }
  return true;
}
