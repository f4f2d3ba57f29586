/**
 * The accounts MariaDB defines, and which of them it chooses for a client.
 *
 * The audit log records the client's actual host (`app@10.1.2.3`); MariaDB
 * authenticated one account, a pattern (`app@'10.1.%'`). This module redoes
 * MariaDB's choice (`sql_acl.cc`, `find_user_or_anon`, `get_magic_sort`,
 * `compare_hostname`) for a client whose host name and IP are known:
 *
 * - accounts of the same user name are tried most specific host first: an
 *   exact host or an `ip/netmask` before patterns, fewer and later wildcards
 *   before more; ties go to the host that sorts last (so `localhost` before
 *   `127.0.0.1`);
 * - an anonymous account (`''@host`) wins only when its host is strictly more
 *   specific than the named account found (the classic `''@localhost` that
 *   shadows `app@'%'` for socket logins);
 * - a host pattern matches when it matches the client's name
 *   (case-insensitively) or its IP, with `%` and `_` wildcards (`\` escapes);
 *   `a.b.c.d/m.m.m.m` matches IPv4 addresses in that network; an empty host
 *   is `%`. A socket client has a name (`localhost`) and no IP; with
 *   `skip-name-resolve`, or when its address does not resolve, a TCP client
 *   has an IP and no name.
 *
 * Which clients a logged host can stand for is `candidates.ts`' concern.
 *
 * @module
 */

import type { Account } from "../format/account.ts";
import { unescapeBatch } from "../input/mariadb_client.ts";

/** A line of an account list that is not `user<TAB>host`. */
export class AccountListError extends Error {
  /** Where the list came from. */
  source: string;
  /** Creates the error. */
  constructor(source: string, message: string) {
    super(message);
    this.name = "AccountListError";
    this.source = source;
  }
}

/** MariaDB's `HOSTNAME_LENGTH`, the `maxlen` of its host pattern ordering. */
const HOST_MAX = 60;

/**
 * Parses an account list as printed by
 * `mariadb -N -B -e "SELECT User, Host FROM mysql.user"`: one `user<TAB>host`
 * per line. Roles (an empty host) are left out, as is a `User<TAB>Host`
 * header. `\t`, `\n` and `\\` escapes of batch mode are undone.
 *
 * @example
 * ```ts
 * parseAccountList("app\t%\nreader\t\n", "users.tsv"); // [{ user: "app", host: "%" }]
 * ```
 * @throws {AccountListError} on a line without a tab.
 */
export function parseAccountList(text: string, source: string): Account[] {
  const out: Account[] = [];
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === "" || (i === 0 && line === "User\tHost")) continue;
    const fields = line.split("\t");
    if (fields.length !== 2) {
      throw new AccountListError(
        source,
        `Line ${i + 1} is not "user<TAB>host": ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    const [user, host] = fields.map(unescapeBatch);
    if (host === "") continue;
    out.push({ user, host });
  }
  return out;
}

/**
 * How general a host pattern is, as MariaDB ranks it (`get_magic_sort`):
 * smaller is more specific. 0 for a host without wildcards (also `ip/mask`).
 *
 * @example
 * ```ts
 * hostGenerality("10.0.0.1"); // 0
 * hostGenerality("10.0.0.%") < hostGenerality("%"); // true
 * ```
 */
export function hostGenerality(pattern: string): number {
  const bytes = new TextEncoder().encode(pattern === "" ? "%" : pattern);
  let n = 0, m = 0, k = 0, p = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x25 /* % */) {
      if (!k && !m) p = n;
      k++;
      while (bytes[i + 1] === 0x25) i++;
      continue;
    }
    if (c === 0x5f /* _ */) {
      if (!k && !m) p = n;
      m++;
      continue;
    }
    if (c === 0x5c /* \ */ && i + 1 < bytes.length) i++;
    n++;
  }
  const l = k ? Math.max(HOST_MAX - n - m, 0) : 0;
  const d = HOST_MAX + 1;
  return l > m ? (((l * 2 + 1) * d + k) * d + m) * d + p : ((m * 2 * d + l) * d + k) * d + p;
}

/**
 * An IPv4 address as an unsigned 32-bit number, or `undefined`.
 *
 * @example
 * ```ts
 * ipv4("10.0.0.1"); // 167772161
 * ipv4("localhost"); // undefined
 * ```
 */
export function ipv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((x) => x > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

/**
 * Whether a logged host is an IP address (IPv4, or IPv6 as MariaDB prints it),
 * not a name.
 *
 * @example
 * ```ts
 * isIpAddress("::1"); // true
 * isIpAddress("db1.example.com"); // false
 * ```
 */
export function isIpAddress(host: string): boolean {
  return ipv4(host) !== undefined || (host.includes(":") && /^[0-9a-f:.]+$/i.test(host));
}

/**
 * Whether a host pattern is a host name the server must resolve to match
 * (`hostname_requires_resolving` in `sql_acl.cc`): not `localhost`, no `:`,
 * `%`, `_` or `/`, and not only digits and dots. With `skip-name-resolve`
 * MariaDB ignores such accounts ("ignored in --skip-name-resolve mode"): no
 * login can use them, and `ALTER USER` fails with error 1396.
 *
 * @example
 * ```ts
 * hostRequiresResolving("db1.example.com"); // true
 * hostRequiresResolving("10.0.0.%"); // false
 * ```
 */
export function hostRequiresResolving(host: string): boolean {
  if (host.toLowerCase() === "localhost") return false;
  if (/[:%_/]/.test(host)) return false;
  return !/^[0-9.]*$/.test(host);
}

/** An account prepared for matching. */
export interface Candidate {
  account: Account;
  /** `generality * 2 + (anonymous ? 1 : 0)`: smaller is tried first. */
  rank: number;
  netmask?: { net: number; mask: number };
  /** The pattern against a name (case-insensitive) and against an IP (case-sensitive). */
  name: RegExp;
  ip: RegExp;
}

function compile(account: Account): Candidate {
  const host = account.host === "" ? "%" : account.host;
  const slash = host.indexOf("/");
  const net = slash > 0 ? ipv4(host.slice(0, slash)) : undefined;
  const mask = slash > 0 ? ipv4(host.slice(slash + 1)) : undefined;
  let source = "";
  for (let i = 0; i < host.length; i++) {
    const c = host[i];
    if (c === "\\" && i + 1 < host.length) source += escapeRegExp(host[++i]);
    else if (c === "%") source += "[^]*";
    else if (c === "_") source += "[^]";
    else source += escapeRegExp(c);
  }
  const candidate: Candidate = {
    account,
    rank: hostGenerality(host) * 2 + (account.user === "" ? 1 : 0),
    name: new RegExp(`^${source}$`, "iu"),
    ip: new RegExp(`^${source}$`, "u"),
  };
  if (net !== undefined && mask !== undefined) candidate.netmask = { net, mask };
  return candidate;
}

function escapeRegExp(c: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c;
}

/** MariaDB's order of accounts with the same user name: by rank, then host descending. */
function byPreference(a: Candidate, b: Candidate): number {
  if (a.rank !== b.rank) return a.rank - b.rank;
  return a.account.host < b.account.host ? 1 : a.account.host > b.account.host ? -1 : 0;
}

/** A client as the server sees it: its host name (if resolved, or `localhost`) and its IP (TCP). */
export interface Client {
  name?: string;
  ip?: string;
}

/**
 * Whether an account's host matches a client, as `compare_hostname` decides.
 *
 * @example
 * ```ts
 * const [c] = indexAccounts([{ user: "a", host: "10.0.0.0/255.0.0.0" }]).byUser.get("a")!;
 * hostMatches(c, { ip: "10.1.2.3" }); // true
 * ```
 */
export function hostMatches(c: Candidate, client: Client): boolean {
  const ip = client.ip === undefined ? undefined : ipv4(client.ip);
  if (c.netmask && ip !== undefined) return ((ip & c.netmask.mask) >>> 0) === c.netmask.net;
  return (client.name !== undefined && c.name.test(client.name)) ||
    (client.ip !== undefined && c.ip.test(client.ip));
}

/** Accounts prepared for repeated matching. */
export interface AccountIndex {
  /** Per user name, in MariaDB's order. */
  byUser: Map<string, Candidate[]>;
  /** The anonymous accounts (`''@host`), in MariaDB's order. */
  anonymous: Candidate[];
}

/**
 * Prepares accounts for {@link matchAccount}.
 *
 * @example
 * ```ts
 * const index = indexAccounts([{ user: "app", host: "%" }]);
 * ```
 */
export function indexAccounts(accounts: Account[]): AccountIndex {
  const byUser = new Map<string, Candidate[]>();
  for (const account of accounts) {
    const list = byUser.get(account.user) ?? [];
    list.push(compile(account));
    byUser.set(account.user, list);
  }
  for (const list of byUser.values()) list.sort(byPreference);
  const anonymous = byUser.get("") ?? [];
  byUser.delete("");
  return { byUser, anonymous };
}

/**
 * The account MariaDB chooses for `user` when `matches` tells which
 * accounts' hosts match the client, or `undefined` when none does.
 *
 * @example
 * ```ts
 * const index = indexAccounts([{ user: "app", host: "%" }]);
 * chooseAccount(index, "app", () => true); // { user: "app", host: "%" }
 * ```
 */
export function chooseAccount(
  index: AccountIndex,
  user: string,
  matches: (c: Candidate) => boolean,
): Account | undefined {
  let found = index.byUser.get(user)?.find(matches);
  for (const c of index.anonymous) {
    if (found && c.rank >= found.rank) break;
    if (matches(c)) {
      found = c;
      break;
    }
  }
  return found?.account;
}

/**
 * The account MariaDB chooses for `user` logging in as `client`, or
 * `undefined` when none matches.
 *
 * @example
 * ```ts
 * const index = indexAccounts([
 *   { user: "app", host: "%" },
 *   { user: "app", host: "10.0.0.0/255.0.0.0" },
 *   { user: "", host: "localhost" },
 * ]);
 * matchAccount(index, "app", { ip: "10.1.2.3" }); // { user: "app", host: "10.0.0.0/255.0.0.0" }
 * matchAccount(index, "app", { ip: "192.168.1.1" }); // { user: "app", host: "%" }
 * matchAccount(index, "app", { name: "localhost" }); // { user: "", host: "localhost" }
 * ```
 */
export function matchAccount(
  index: AccountIndex,
  user: string,
  client: Client,
): Account | undefined {
  return chooseAccount(index, user, (c) => hostMatches(c, client));
}
