/**
 * The plugin's own rotation against the schedule: from how fast the audit
 * files grow, how long a line written just before a rotation survives (the
 * time `server_audit_file_rotations` rotations take), against how often
 * conntracker runs.
 *
 * @module
 */

import type { Interval } from "./interval.ts";
import { type Finding, finding } from "./finding.ts";
import type { PluginSettings } from "./plugin.ts";

/** An audit file as listed: the live one or one of its rotations. */
export interface ListedFile {
  path: string;
  size: number;
  mtimeMs: number;
}

/** What {@link rotationFindings} weighs. */
export interface RotationInput {
  settings: PluginSettings;
  /** The live file (`settings.filePath`), when it exists. */
  live?: ListedFile;
  /** Its rotations on disk (`.1`, `.2` …), any order. */
  rotated: ListedFile[];
  nowMs: number;
  interval?: Interval;
  /** Bytes per millisecond the recent runs read, for when no rotation is on disk yet. */
  runsRate?: number;
}

/**
 * Formats a duration as `2d3h`, `3h12m`, `5m`, `40s`.
 *
 * @example
 * ```ts
 * formatSpan(11_520_000); // "3h12m"
 * ```
 */
export function formatSpan(ms: number): string {
  const s = Math.round(ms / 1000);
  const parts: [number, string][] = [
    [Math.floor(s / 86_400), "d"],
    [Math.floor(s / 3600) % 24, "h"],
    [Math.floor(s / 60) % 60, "m"],
    [s % 60, "s"],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first === -1) return "0s";
  return parts.slice(first, first + 2).filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`)
    .join("");
}

/**
 * How fast the files grow, in bytes per millisecond: what was written since
 * the oldest rotation on disk was closed, over the time since.
 *
 * @example
 * ```ts
 * growthRate({ path: "a", size: 500, mtimeMs: 2000 }, [{ path: "a.1", size: 1000, mtimeMs: 1000 }], 2000);
 * // 0.5
 * ```
 */
export function growthRate(
  live: ListedFile | undefined,
  rotated: ListedFile[],
  nowMs: number,
): number | undefined {
  if (rotated.length === 0) return undefined;
  const oldest = rotated.reduce((a, b) => a.mtimeMs <= b.mtimeMs ? a : b);
  const bytes = (live?.size ?? 0) +
    rotated.filter((f) => f !== oldest).reduce((sum, f) => sum + f.size, 0);
  const elapsed = nowMs - oldest.mtimeMs;
  return elapsed > 0 && bytes > 0 ? bytes / elapsed : undefined;
}

/**
 * The finding about how often conntracker runs.
 *
 * @example
 * ```ts
 * scheduleFinding({ ms: 300_000, source: "/etc/cron.d/conntracker" }).severity; // "ok"
 * ```
 */
export function scheduleFinding(interval: Interval | undefined): Finding {
  return interval
    ? finding(
      "schedule",
      "ok",
      `conntracker runs every ${formatSpan(interval.ms)} (${interval.source})`,
    )
    : finding(
      "schedule",
      "warn",
      "No systemd timer or cron entry runs conntracker",
      "install contrib/conntracker.timer or contrib/conntracker.cron, or pass --interval " +
        "if another scheduler runs it",
    );
}

/**
 * The findings about the plugin's rotation against the schedule.
 *
 * @example
 * ```ts
 * // runCheck() in mod.ts calls it with the listed files and the interval found.
 * ```
 */
export function rotationFindings(input: RotationInput): Finding[] {
  const { settings: s, interval } = input;
  const out: Finding[] = [];
  if (s.rotations === 0 || s.rotateSize === 0) {
    out.push(
      finding(
        "rotation",
        "ok",
        `The plugin does not rotate its file (server_audit_file_rotations = ${s.rotations}, ` +
          `server_audit_file_rotate_size = ${s.rotateSize})`,
      ),
    );
    return out;
  }
  const rate = growthRate(input.live, input.rotated, input.nowMs) ?? input.runsRate;
  const setting = `server_audit_file_rotations = ${s.rotations} of ` +
    `server_audit_file_rotate_size = ${s.rotateSize} bytes`;
  if (!rate) {
    out.push(
      finding("rotation", "ok", `${setting}; too little growth yet to tell how long they last`),
    );
    return out;
  }
  const lastsMs = s.rotations * s.rotateSize / rate;
  const grows = `${setting} last about ${formatSpan(lastsMs)} at the current ` +
    `${(rate * 3_600_000 / 1_000_000).toFixed(2)} MB/h`;
  const fix = `run conntracker more often than every ${formatSpan(lastsMs / 2)}, or raise ` +
    "server_audit_file_rotations or server_audit_file_rotate_size";
  if (!interval) out.push(finding("rotation", "ok", grows));
  else if (interval.ms >= lastsMs) {
    out.push(
      finding(
        "rotation",
        "error",
        `${grows}, less than the ${formatSpan(interval.ms)} between runs: files are deleted ` +
          "before they are read (a run exits 3)",
        fix,
      ),
    );
  } else if (interval.ms * 2 > lastsMs) {
    out.push(
      finding(
        "rotation",
        "warn",
        `${grows}, less than twice the ${
          formatSpan(interval.ms)
        } between runs: a burst loses events`,
        fix,
      ),
    );
  } else {
    out.push(finding("rotation", "ok", `${grows}; runs every ${formatSpan(interval.ms)}`));
  }
  return out;
}
