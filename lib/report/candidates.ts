/**
 * Which accounts a logged `user@host` can stand for.
 *
 * The audit log writes one host per connection: the client's resolved name
 * when the server resolves names (Debian's default), else its IP, and
 * `localhost` for the socket and, with name resolution on, for TCP from
 * 127.0.0.1 and ::1. MariaDB matched the account's host against both the name
 * and the IP, so one logged host can stand for several clients:
 *
 * - an IP: one client, that IP without a name;
 * - `localhost`: the socket (no IP); unless the server runs with
 *   `skip-name-resolve`, also TCP from 127.0.0.1, ::1 and whatever the
 *   system resolver gives for `localhost`;
 * - another name: the server checked that the name resolved to the client's
 *   IP at login time, but that address need not be today's answer (DNS
 *   changes, DHCP, a moved VM): one client per address the system resolver
 *   gives for it now, and any IP.
 *
 * The login belongs to an account only when every possible client gives the
 * same one (a client that matches no account could not have logged in).
 *
 * @module
 */

import { type Account, accountKey } from "../format/account.ts";
import {
  type AccountIndex,
  type Candidate,
  chooseAccount,
  type Client,
  hostMatches,
  isIpAddress,
  matchAccount,
} from "./accounts.ts";

/** Whether the server resolves client names: `unknown` is treated as possibly on. */
export type NameResolution = "on" | "off" | "unknown";

/** What the report knows of name resolution. */
export interface Resolution {
  mode: NameResolution;
  /** What the system resolver gives now for each logged name; empty when it does not resolve. */
  addresses: Map<string, string[]>;
  /** Why a name did not resolve (`ENOTFOUND`, `EPERM`, ...), when known. */
  errors?: Map<string, string>;
}

/** The accounts a logged `user@host` may have been. */
export interface Choice {
  /** The accounts the server may have chosen; empty when none matches. */
  accounts: Account[];
  /** Whether some possible client matches no account (such an attempt failed). */
  none: boolean;
  /** Why the logged host stands for more than one client, for the report's reasons. */
  why?: string;
}

/** The loopback addresses MariaDB logs as `localhost` without asking DNS. */
const LOOPBACK = ["127.0.0.1", "::1"];

/** Whether a host pattern could match some IP text (its literals are all IP characters). */
function couldMatchIp(c: Candidate): boolean {
  return c.netmask !== undefined || /^[0-9a-f:.%_\\]*$/i.test(c.account.host);
}

/**
 * The accounts the server may have chosen for `user` logged from
 * `loggedHost`, given what is known of name resolution.
 *
 * @example
 * ```ts
 * import { indexAccounts } from "./accounts.ts";
 * const index = indexAccounts([
 *   { user: "svc", host: "127.0.0.1" },
 *   { user: "svc", host: "%" },
 *   { user: "", host: "localhost" },
 * ]);
 * const resolution = { mode: "on" as const, addresses: new Map() };
 * candidateAccounts(index, "svc", "localhost", resolution).accounts;
 * // [{ user: "", host: "localhost" }, { user: "svc", host: "127.0.0.1" }]
 * candidateAccounts(index, "svc", "127.0.0.2", resolution).accounts; // [{ user: "svc", host: "%" }]
 * ```
 */
export function candidateAccounts(
  index: AccountIndex,
  user: string,
  loggedHost: string,
  resolution: Resolution,
): Choice {
  const found = new Map<string, Account | undefined>();
  const add = (a: Account | undefined) => found.set(a ? accountKey(a.user, a.host) : "", a);
  let why: string | undefined;
  if (isIpAddress(loggedHost)) {
    add(matchAccount(index, user, { ip: loggedHost }));
  } else if (loggedHost === "localhost") {
    const clients: Client[] = [{ name: loggedHost }];
    if (resolution.mode !== "off") {
      const ips = new Set([...LOOPBACK, ...(resolution.addresses.get(loggedHost) ?? [])]);
      for (const ip of ips) clients.push({ name: loggedHost, ip });
      why = `localhost is the socket or TCP from ${[...ips].join(", ")}`;
    }
    for (const client of clients) add(matchAccount(index, user, client));
  } else {
    // The address at login time is not known, whatever the name resolves to now (DNS changes,
    // DHCP, a moved VM): any IP, so every account whose host could match one may take the login.
    // (That covers each current address's choice too; those addresses only go in the reason.)
    const ips = resolution.addresses.get(loggedHost) ?? [];
    const byName = (c: Candidate) => hostMatches(c, { name: loggedHost });
    add(chooseAccount(index, user, byName));
    const others = [...(index.byUser.get(user) ?? []), ...index.anonymous]
      .filter((c) => !byName(c) && couldMatchIp(c));
    for (const x of others) add(chooseAccount(index, user, (c) => c === x || byName(c)));
    const error = resolution.errors?.get(loggedHost);
    why = ips.length > 0
      ? `${loggedHost} resolves to ${
        ips.join(", ")
      } now; when it logged in it may have had another address`
      : `${loggedHost} does not resolve now${
        error ? ` (${error})` : ""
      }, so its address is not known`;
  }
  const accounts = [...found.values()].filter((a): a is Account => a !== undefined);
  accounts.sort((a, b) => accountKey(a.user, a.host) < accountKey(b.user, b.host) ? -1 : 1);
  return { accounts, none: found.has(""), ...(accounts.length > 1 ? { why } : {}) };
}
