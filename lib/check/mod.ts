/**
 * `conntracker check`: inspects what decides whether the numbers can be
 * trusted, and returns one finding per thing looked at. Its files, one per
 * family of findings:
 *
 * - `client.ts`: the server's variables, through the MariaDB client;
 * - `plugin.ts`: the audit plugin's settings against the ini;
 * - `interval.ts`: how often conntracker runs (systemd timer, cron, `--interval`);
 * - `time_span.ts`: systemd time spans (`5min`), for `--interval` and timer units;
 * - `rotation.ts`: how long the plugin's rotations last against that interval;
 * - `logrotate.ts`: logrotate configurations that cover the audit log;
 * - `zone.ts`: the server's zone against `TimeLocation`;
 * - `files.ts`: the live file, the file the server has open, readability;
 * - `database.ts`: the database file's mode and place;
 * - `last_run.ts`: the last run and the recent losses;
 * - `finding.ts`: findings and their lines.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import type { Config } from "../config.ts";
import { type Candidate, databaseFiles, discoverFiles, DiscoveryError } from "../input/discover.ts";
import { serverVariables } from "./client.ts";
import { StoreError } from "../store/database.ts";
import { databaseFindings, unreadableDatabaseFinding } from "./database.ts";
import { type Finding, finding } from "./finding.ts";
import { liveFindings, openFileFindings, readableFindings } from "./files.ts";
import { findInterval } from "./interval.ts";
import { lastRunFindings, readRunHistory, type RunHistory } from "./last_run.ts";
import { logrotateFindings, readLogrotate } from "./logrotate.ts";
import { pluginFindings, pluginSettings } from "./plugin.ts";
import { rotationFindings, scheduleFinding } from "./rotation.ts";
import { zoneFindings } from "./zone.ts";

export { type Finding, formatFindings, type Severity } from "./finding.ts";
export { parseTimeSpan, TimeSpanError } from "./time_span.ts";

/** What `check` looks at. */
export interface CheckOptions {
  config: Config;
  /** Prefixed to the system paths of logrotate, systemd and cron (default `/`); for tests. */
  root?: string;
  /** `--interval`: how often conntracker runs when no timer or cron entry says (milliseconds). */
  intervalMs?: number;
  /** The clock, epoch milliseconds (default `Date.now`). */
  now?: () => number;
}

function listFiles(
  options: { path: string; name?: string; recursive: boolean; sqlitePath: string },
): { files: Candidate[]; problem?: DiscoveryError } {
  try {
    const { files, errors } = discoverFiles({
      ...options,
      exclude: databaseFiles(options.sqlitePath),
    });
    return { files, problem: errors[0] };
  } catch (e) {
    if (e instanceof DiscoveryError) return { files: [], problem: e };
    throw e;
  }
}

/** Where the audit log is when the server cannot be asked: from the ini. */
async function configuredLivePath(config: Config): Promise<string> {
  const isDir = await Deno.stat(config.auditLogPath).then((i) => i.isDirectory, () => false);
  return isDir
    ? join(config.auditLogPath, config.auditLogFile ?? "server_audit.log")
    : config.auditLogPath;
}

/**
 * Runs every check.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * const findings = await runCheck({ config: await loadConfig("/etc/conntracker/conntracker.ini") });
 * findings.some((f) => f.severity === "error");
 * ```
 */
export async function runCheck(options: CheckOptions): Promise<Finding[]> {
  const { config, now = Date.now } = options;
  const out: Finding[] = [];
  const nowMs = now();
  const answer = await serverVariables({
    client: config.mariadbClient,
    defaultsFile: config.mariadbDefaultsFile,
  });
  const variables = answer.ok ? answer.variables : new Map<string, string>();
  const settings = pluginSettings(variables);
  if (!answer.ok) {
    out.push(
      finding(
        "server",
        "error",
        `Cannot ask the server: ${answer.problem}`,
        "set MariadbDefaultsFile to an option file with socket, user and password in " +
          "[client] (mode 0600), or run check as root (unix_socket)",
      ),
    );
  } else if (!settings) {
    out.push(
      finding(
        "plugin",
        "error",
        "The server_audit plugin is not loaded: nothing is logged",
        "INSTALL SONAME 'server_audit', and plugin_load_add = server_audit in [mariadbd]",
      ),
    );
  }
  const listed = listFiles({
    path: config.auditLogPath,
    name: config.auditLogFile,
    recursive: config.auditLogRecursive,
    sqlitePath: config.sqlitePath,
  });
  if (listed.problem) {
    out.push(
      finding(
        "files",
        "error",
        `${listed.problem.path}: ${listed.problem.message}`,
        "fix AuditLogPath, or run conntracker as a user who can list it",
      ),
    );
  }
  const paths = listed.files.map((f) => f.path);
  if (settings) out.push(...pluginFindings({ settings, config, listed: paths }));
  const fileOutput = !settings || settings.outputType !== "syslog";
  const livePath = settings && fileOutput ? settings.filePath : await configuredLivePath(config);
  const interval = await findInterval({ root: options.root, fallbackMs: options.intervalMs });
  let history: RunHistory | undefined;
  let unreadable: StoreError | undefined;
  try {
    history = readRunHistory(config, nowMs);
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    unreadable = e;
  }
  out.push(scheduleFinding(interval));
  if (fileOutput) {
    const family = listFiles({
      path: dirname(livePath),
      name: basename(livePath),
      recursive: false,
      sqlitePath: config.sqlitePath,
    });
    const live = family.files.find((f) => f.path === livePath);
    const rotated = family.files.filter((f) => f.path !== livePath);
    if (settings) {
      out.push(
        ...rotationFindings({ settings, live, rotated, nowMs, interval, runsRate: history?.rate }),
      );
    }
    out.push(
      ...logrotateFindings(
        await readLogrotate({ root: options.root }),
        livePath,
        settings?.rotations,
      ),
    );
    if (settings?.logging) {
      out.push(...liveFindings(livePath, live, rotated));
      const pidFile = variables.get("pid_file");
      if (pidFile) out.push(...await openFileFindings(pidFile, livePath));
    }
  }
  if (answer.ok) out.push(...zoneFindings({ variables, timeLocation: config.timeLocation, nowMs }));
  if (paths.length > 0) out.push(...await readableFindings(paths));
  out.push(
    ...await databaseFindings({ sqlitePath: config.sqlitePath, datadir: variables.get("datadir") }),
  );
  if (unreadable) out.push(unreadableDatabaseFinding(unreadable));
  const metricsText = config.metricsFile
    ? await Deno.readTextFile(config.metricsFile).catch(() => undefined)
    : undefined;
  out.push(...lastRunFindings({ history, nowMs, interval, metricsText }));
  return out;
}
