/**
 * The `MetricsFile`: a Prometheus textfile-collector file (node_exporter's
 * `--collector.textfile.directory`), rewritten after each run, failed runs
 * too. It is written to a temp file in the same folder and renamed over the
 * old one, so that the collector never reads half a file.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import type { RunMetrics } from "../track/metrics.ts";

/** The metrics file could not be written. */
export class MetricsFileError extends Error {
  /** The metrics file. */
  path: string;
  /** Creates the error. */
  constructor(path: string, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "MetricsFileError";
    this.path = path;
  }
}

/** How a run ended, as the metrics file tells it. */
export interface RunEnd {
  /** When it ended, epoch milliseconds. */
  finishedMs: number;
  /** Whether it exited 0. */
  success: boolean;
  /** Its figures; absent when it failed before it had any (database locked, unreadable path). */
  metrics?: RunMetrics;
}

/** Counters and times carried from one run's file to the next. */
const CARRIED = [
  "conntracker_last_success_timestamp_seconds",
  "conntracker_runs_total",
  "conntracker_runs_failed_total",
  "conntracker_lost_files_total",
] as const;

/** One metric: name, help, type, and its samples (labels as `k="v"` text). */
interface Family {
  name: string;
  help: string;
  type: "gauge" | "counter";
  samples: [labels: string, value: number][];
}

/**
 * Reads the carried values of an earlier file written by {@link renderMetrics}
 * (other lines are ignored).
 *
 * @example
 * ```ts
 * carriedValues("conntracker_runs_total 3\n").get("conntracker_runs_total"); // 3
 * ```
 */
function carriedValues(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+) (\S+)$/.exec(line);
    if (m && (CARRIED as readonly string[]).includes(m[1]) && Number.isFinite(Number(m[2]))) {
      values.set(m[1], Number(m[2]));
    }
  }
  return values;
}

/**
 * Renders the metrics file's text (the Prometheus text format 0.0.4) for a
 * run, carrying counters and the last success time from the previous file.
 *
 * @example
 * ```ts
 * const text = renderMetrics({ finishedMs: 1_700_000_000_000, success: false }, new Map());
 * text.includes("conntracker_runs_failed_total 1"); // true
 * ```
 */
function renderMetrics(end: RunEnd, previous: Map<string, number>): string {
  const m = end.metrics;
  const seconds = (ms: number) => ms / 1000;
  const lastSuccess = end.success
    ? seconds(end.finishedMs)
    : previous.get("conntracker_last_success_timestamp_seconds");
  const families: Family[] = [
    gauge("last_run_timestamp_seconds", "When the last run ended.", seconds(end.finishedMs)),
    gauge("last_run_success", "1 if the last run exited 0, else 0.", end.success ? 1 : 0),
    counter(
      "runs_total",
      "Runs that wrote this file.",
      (previous.get("conntracker_runs_total") ?? 0) + 1,
    ),
    counter(
      "runs_failed_total",
      "Runs that did not exit 0.",
      (previous.get("conntracker_runs_failed_total") ?? 0) + (end.success ? 0 : 1),
    ),
    counter(
      "lost_files_total",
      "Audit files removed by rotation before they were read to the end.",
      (previous.get("conntracker_lost_files_total") ?? 0) + (m?.losses ?? 0),
    ),
  ];
  if (lastSuccess !== undefined) {
    families.push(
      gauge(
        "last_success_timestamp_seconds",
        "When the last run that exited 0 ended.",
        lastSuccess,
      ),
    );
  }
  if (m) {
    families.push(
      gauge(
        "last_run_duration_seconds",
        "How long the last run took.",
        seconds(m.finishedMs - m.startedMs),
      ),
      gauge("last_run_files_read", "Audit files with new bytes read by the last run.", m.filesRead),
      gauge(
        "last_run_bytes_read",
        "Bytes read by the last run (decompressed for gzip).",
        m.bytesRead,
      ),
      {
        name: "conntracker_last_run_events",
        help: "Events and lines counted by the last run, by kind.",
        type: "gauge",
        samples: [
          ['kind="login"', m.logins],
          ['kind="failed"', m.failed],
          ['kind="empty_user"', m.emptyUser],
          ['kind="change_user_resolved"', m.changeUsersResolved],
          ['kind="change_user_dropped"', m.changeUsersDropped],
          ['kind="malformed"', m.malformed],
          ['kind="long_line"', m.longLines],
        ],
      },
      gauge("last_run_losses", "Audit files lost to rotation in the last run.", m.losses),
      gauge("last_run_errors", "Audit files the last run could not read.", m.errors),
      gauge("accounts", "Accounts in the database after the last run.", m.accountsTotal),
      gauge("last_run_accounts_inserted", "Accounts the last run added.", m.accountsInserted),
      gauge(
        "last_run_accounts_updated",
        "Accounts with new activity that the database held.",
        m.accountsUpdated,
      ),
    );
  }
  return families.map(renderFamily).join("");
}

function gauge(name: string, help: string, value: number): Family {
  return { name: `conntracker_${name}`, help, type: "gauge", samples: [["", value]] };
}

function counter(name: string, help: string, value: number): Family {
  return { name: `conntracker_${name}`, help, type: "counter", samples: [["", value]] };
}

function renderFamily(f: Family): string {
  const samples = f.samples.map(([labels, value]) =>
    `${f.name}${labels ? `{${labels}}` : ""} ${value}\n`
  );
  return `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n${samples.join("")}`;
}

/**
 * Writes the metrics file for a run: reads the previous one for its counters,
 * writes a temp file beside it (mode 0644), and renames it into place.
 *
 * @example
 * ```ts
 * await writeMetricsFile("/var/lib/prometheus/node-exporter/conntracker.prom", {
 *   finishedMs: Date.now(),
 *   success: false,
 * });
 * ```
 * @throws {MetricsFileError} when the file cannot be written.
 */
export async function writeMetricsFile(path: string, end: RunEnd): Promise<void> {
  const previous = await Deno.readTextFile(path).catch(() => "");
  const text = renderMetrics(end, carriedValues(previous));
  // Not ending in .prom: the collector never reads the temp file.
  const temp = join(dirname(path), `.${basename(path)}.${Deno.pid}.tmp`);
  try {
    await Deno.writeTextFile(temp, text, { mode: 0o644 });
    await Deno.rename(temp, path);
  } catch (e) {
    await Deno.remove(temp).catch(() => {});
    throw new MetricsFileError(
      path,
      `Metrics file cannot be written: ${(e as Error).message}`,
      e,
    );
  }
}
