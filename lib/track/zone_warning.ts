/**
 * Saying so when `TimeLocation` does not fit the log: the live file (the
 * newest plain file a run read) is weighed by the time-zone check, and a
 * mismatch is one `ERROR` line. The run is recorded all the same, and its
 * exit code does not change: the line is there for cron to mail.
 *
 * @module
 */

import { readTail } from "../input/tail.ts";
import type { Logger } from "../log.ts";
import type { Config } from "../config.ts";
import { parseWall } from "../time/layout.ts";
import { checkZone } from "../time/zone_check.ts";
import { loadZone } from "../time/zone.ts";
import type { FileRead } from "./checkpoints.ts";

/** What the warning weighs. */
export interface ZoneWarningOptions {
  /** The files the run read. */
  reads: readonly FileRead[];
  /** `TimeFormatAudit` and `TimeLocation`. */
  config: Pick<Config, "timeFormatAudit" | "timeLocation">;
  log: Logger;
}

/**
 * Checks `TimeLocation` against the live file and logs one `ERROR` line when
 * another zone fits; says nothing when it fits or the file tells nothing.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * import { createLogger } from "../log.ts";
 * const config = await loadConfig("/etc/conntracker/conntracker.ini");
 * await warnOnWrongZone({ reads: [], config, log: createLogger(config.logLevel) });
 * ```
 */
export async function warnOnWrongZone(options: ZoneWarningOptions): Promise<void> {
  const { log } = options;
  const { timeFormatAudit: layout, timeLocation: zone } = options.config;
  if (layout.hasOffset) return;
  let live: FileRead | undefined;
  for (const r of options.reads) {
    if (!r.checkpoint.gzip && (!live || r.file.mtimeMs > live.file.mtimeMs)) live = r;
  }
  if (!live) return;
  const tail = await readTail(live.file.path).catch(() => undefined);
  const parsed = tail && parseWall(layout, tail.line);
  if (!tail || !parsed || tail.line[parsed.end] !== ",") return;
  const mismatch = checkZone(
    { wall: parsed.wall, mtimeMs: tail.mtimeMs },
    { configured: zone, machine: () => loadZone("Local") },
  );
  if (!mismatch) return;
  const skew = mismatch.fittingOffsetSeconds - mismatch.configuredOffsetSeconds;
  const abs = Math.abs(skew);
  const span = `${Math.floor(abs / 3600)}h${abs % 3600 ? `${(abs % 3600) / 60}m` : ""}`;
  const fits = `this machine's zone "${mismatch.fits}"`;
  log.log(
    "ERROR",
    `TimeLocation "${zone.name}" puts the audit log's last line ${span} ` +
      `${skew < 0 ? "before" : "after"} the file was written; ${fits} fits: ` +
      "set TimeLocation to the server's zone (last_seen is off by as much until then)",
    { key: "TimeLocation", value: zone.name, fits: mismatch.fits, file: live.file.path },
  );
}
