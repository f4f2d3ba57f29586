/**
 * Resolving logged host names as the server does: through the system
 * resolver (`getaddrinfo`, so `/etc/hosts` and `nsswitch.conf` count), not
 * through DNS alone. Deno runs `node:dns`' `lookup` through `getaddrinfo`;
 * it needs the net permission (without it every name fails with `EPERM`,
 * which the report then treats as "does not resolve"). A name other than
 * `localhost` stands for any address either way: its current addresses only
 * go in the reason.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import { isIpAddress } from "./accounts.ts";
import type { NameResolution, Resolution } from "./candidates.ts";

/**
 * Resolves the names among `hosts` (IP addresses are left out; `localhost`
 * is kept, the system may give it more addresses than the loopback ones).
 *
 * @example
 * ```ts
 * const r = await resolveHosts(["localhost", "10.0.0.1"], "unknown");
 * r.addresses.get("localhost"); // ["127.0.0.1"] (or more, as /etc/hosts says)
 * ```
 */
export async function resolveHosts(
  hosts: Iterable<string>,
  mode: NameResolution,
): Promise<Resolution> {
  const names = [...new Set(hosts)].filter((h) => h !== "" && !isIpAddress(h));
  const addresses = new Map<string, string[]>();
  const errors = new Map<string, string>();
  await Promise.all(names.map(async (name) => {
    try {
      const found = await lookup(name, { all: true });
      addresses.set(name, [...new Set(found.map((a) => a.address))]);
    } catch (e) {
      addresses.set(name, []);
      errors.set(name, `getaddrinfo ${(e as { code?: string }).code ?? (e as Error).message}`);
    }
  }));
  return { mode, addresses, errors };
}
