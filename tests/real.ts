/**
 * Tests of real parts (servers, daemons): skipped loudly when a part is not
 * installed, failing under CI (the helpers that start them throw).
 *
 * @module
 */

import { HAVE_GALERA } from "./galera.ts";
import { HAVE_JOURNAL_REMOTE, HAVE_JOURNALD } from "./journal.ts";
import { HAVE_MARIADB } from "./mariadb.ts";
import { HAVE_LOGROTATE, HAVE_RSYSLOG } from "./rsyslog.ts";

const CI = Boolean(Deno.env.get("CI"));

/** The real parts, whether each is here, and the Debian packages that bring it. */
const PACKAGES: Record<string, [boolean, string]> = {
  mariadb: [HAVE_MARIADB, "mariadb-server mariadb-client"],
  galera: [HAVE_GALERA, "mariadb-server galera-4 rsync"],
  rsyslog: [HAVE_RSYSLOG, "rsyslog"],
  logrotate: [HAVE_LOGROTATE, "logrotate"],
  journalRemote: [HAVE_JOURNAL_REMOTE, "systemd-journal-remote"],
  journald: [HAVE_JOURNALD, "systemd"],
};

/** A real part a test needs. */
export type RealPart = keyof typeof PACKAGES;

/**
 * Registers a test of real parts: skipped loudly without them, failing under CI.
 *
 * @example
 * ```ts
 * real("rsyslogd: a line reaches its file", ["rsyslog"], async () => {});
 * ```
 */
export function real(
  name: string,
  needs: RealPart[],
  fn: (t: Deno.TestContext) => Promise<void>,
): void {
  const missing = needs.filter((n) => !PACKAGES[n][0]).map((n) => PACKAGES[n][1]);
  if (missing.length && !CI) {
    console.error(`\n*** SKIPPING "${name}": apt-get install ${missing.join(" ")} ***\n`);
  }
  Deno.test({
    name,
    ignore: missing.length > 0 && !CI,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });
}
