/**
 * The push as the command line makes it: after a run's commit, or alone as
 * `conntracker push`. A push that fails is one `WARN` line on stderr (at any
 * `LogLevel`: the central store is behind), with its figures; a push that
 * works is an `INFO` line. `--json` prints the same figures as an object.
 *
 * @module
 */

import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { pushChanges, type PushSummary } from "./push.ts";
import type { Timeouts } from "./connect.ts";

/** The `--json` object of a push (`run --json` has it under `push`). */
export interface PushJson {
  ok: boolean;
  server_id: string;
  cluster: string | null;
  host: string | null;
  full: boolean;
  rows_sent: number;
  rows: { activity: number; proxies: number; losses: number; accounts: number; skipped: number };
  acked_seq: number | null;
  retries: number;
  failovers: number;
  duration_ms: number;
  problems: string[];
}

/**
 * The `--json` object of a push.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * import { pushChanges } from "./push.ts";
 * const summary = await pushChanges({ config: await loadConfig("/etc/conntracker/conntracker.ini") });
 * console.log(JSON.stringify(pushJson(summary)));
 * ```
 */
export function pushJson(summary: PushSummary): PushJson {
  return {
    ok: summary.ok,
    server_id: summary.serverId,
    cluster: summary.cluster ?? null,
    host: summary.host ?? null,
    full: summary.full,
    rows_sent: summary.rowsSent,
    rows: {
      activity: summary.activityRows,
      proxies: summary.proxyRows,
      losses: summary.lossRows,
      accounts: summary.accountRows,
      skipped: summary.skippedRows,
    },
    acked_seq: summary.ackedSeq ?? null,
    retries: summary.retries,
    failovers: summary.failovers,
    duration_ms: summary.ms,
    problems: summary.problems,
  };
}

/**
 * Pushes, and writes what happened on the log: `INFO push finished` with its
 * figures, or `WARN push failed` (also when the logger's level is `ERROR`).
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * const config = await loadConfig("/etc/conntracker/conntracker.ini");
 * const summary = await pushAndLog({ config, log: createLogger(config.logLevel) });
 * ```
 */
export async function pushAndLog(
  options: { config: Config; log: Logger; timeouts?: Timeouts },
): Promise<PushSummary> {
  const summary = await pushChanges(options);
  const attrs = {
    server_id: summary.serverId,
    cluster: summary.cluster,
    host: summary.host,
    full: summary.full,
    rows_sent: summary.rowsSent,
    activity: summary.activityRows,
    proxies: summary.proxyRows,
    losses: summary.lossRows,
    accounts: summary.accountRows,
    skipped: summary.skippedRows || undefined,
    acked_seq: summary.ackedSeq,
    retries: summary.retries,
    failovers: summary.failovers,
    ms: summary.ms,
  };
  if (summary.ok && summary.problems.length === 0) {
    options.log.log("INFO", "push finished", attrs);
  } else {
    const level = options.log.level === "ERROR" ? "WARN" : options.log.level;
    const warn = { ...options.log, level } as Logger;
    warn.log(
      "WARN",
      summary.ok ? "push finished with problems" : "push failed",
      { ...attrs, problem: summary.problems.join("; ") },
    );
  }
  return summary;
}
