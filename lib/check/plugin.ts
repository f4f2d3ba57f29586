/**
 * The audit plugin's settings against the ini: loaded and logging, CONNECT
 * among its events, its output and file where `AuditLogPath` and
 * `AuditLogFile` look, its query log limit and its own rotation.
 *
 * @module
 */

import { isAbsolute, join } from "node:path";
import type { Config } from "../config.ts";
import { MAX_LINE_BYTES } from "../input/source.ts";
import { type Finding, finding } from "./finding.ts";

/** The plugin's settings that the checks use. */
export interface PluginSettings {
  logging: boolean;
  /** `server_audit_events`, upper case; empty means every event. */
  events: string[];
  outputType: string;
  /** `server_audit_file_path` resolved against the data directory. */
  filePath: string;
  rotateSize: number;
  rotations: number;
  queryLogLimit: number;
}

/**
 * Reads the plugin's settings from the server's variables; `undefined` when
 * the plugin is not loaded.
 *
 * @example
 * ```ts
 * const v = new Map([["server_audit_logging", "ON"], ["server_audit_file_path", "server_audit.log"],
 *   ["datadir", "/var/lib/mysql/"]]);
 * pluginSettings(v)?.filePath; // "/var/lib/mysql/server_audit.log"
 * ```
 */
export function pluginSettings(variables: Map<string, string>): PluginSettings | undefined {
  const logging = variables.get("server_audit_logging");
  if (logging === undefined) return undefined;
  const path = variables.get("server_audit_file_path") || "server_audit.log";
  const datadir = variables.get("datadir") ?? "";
  const resolved = isAbsolute(path) ? path : join(datadir, path);
  return {
    logging: logging.toUpperCase() === "ON",
    events: (variables.get("server_audit_events") ?? "").toUpperCase().split(",")
      .map((e) => e.trim()).filter((e) => e !== ""),
    outputType: (variables.get("server_audit_output_type") ?? "file").toLowerCase(),
    // The plugin appends its default name to a path that ends with a slash.
    filePath: resolved.endsWith("/") ? join(resolved, "server_audit.log") : resolved,
    rotateSize: Number(variables.get("server_audit_file_rotate_size") ?? 1_000_000),
    rotations: Number(variables.get("server_audit_file_rotations") ?? 9),
    queryLogLimit: Number(variables.get("server_audit_query_log_limit") ?? 1024),
  };
}

/** What {@link pluginFindings} compares. */
export interface PluginInput {
  settings: PluginSettings;
  config: Config;
  /** The files `AuditLogPath` and `AuditLogFile` find (as a run lists them). */
  listed: string[];
}

/**
 * The findings about the plugin's own settings.
 *
 * @example
 * ```ts
 * // runCheck() in mod.ts calls it with the server's answer.
 * ```
 */
export function pluginFindings(input: PluginInput): Finding[] {
  const { settings: s, config, listed } = input;
  const out: Finding[] = [];
  out.push(
    s.logging
      ? finding("plugin", "ok", "server_audit is loaded and server_audit_logging is ON")
      : finding(
        "plugin",
        "error",
        "server_audit is loaded but server_audit_logging is OFF: nothing is logged",
        "SET GLOBAL server_audit_logging = ON, and server_audit_logging = ON in the server's " +
          "configuration ([mariadbd])",
      ),
  );
  const connect = s.events.length === 0 || s.events.includes("CONNECT");
  out.push(
    connect
      ? finding(
        "plugin",
        "ok",
        `server_audit_events ${
          s.events.length ? `= ${s.events.join(",")}` : "is empty (every event)"
        } logs CONNECT`,
      )
      : finding(
        "plugin",
        "error",
        `server_audit_events = ${s.events.join(",")} leaves out CONNECT: no login is logged`,
        "add CONNECT to server_audit_events (SET GLOBAL server_audit_events = 'CONNECT')",
      ),
  );
  if (s.outputType === "syslog") {
    out.push(
      finding(
        "plugin",
        "ok",
        "server_audit_output_type = syslog: AuditLogPath must name the file the syslog " +
          `daemon writes (now ${config.auditLogPath})`,
      ),
    );
  } else if (listed.includes(s.filePath)) {
    out.push(
      finding(
        "plugin",
        "ok",
        `server_audit_file_path ${s.filePath} is among the files AuditLogPath finds`,
      ),
    );
  } else {
    out.push(
      finding(
        "plugin",
        "error",
        `server_audit_file_path is ${s.filePath}, which AuditLogPath = ${config.auditLogPath}` +
          `${config.auditLogFile ? ` and AuditLogFile = ${config.auditLogFile}` : ""} ` +
          "do not find: nothing the server logs is read",
        `set AuditLogPath to the folder of ${s.filePath} (and AuditLogFile to its name) in ` +
          config.file,
      ),
    );
  }
  out.push(
    s.queryLogLimit > MAX_LINE_BYTES
      ? finding(
        "plugin",
        "warn",
        `server_audit_query_log_limit = ${s.queryLogLimit} allows lines longer than the ` +
          `${MAX_LINE_BYTES}-byte line limit: such lines are skipped and counted`,
        `SET GLOBAL server_audit_query_log_limit = 1024 (no connection line comes near it)`,
      )
      : finding("plugin", "ok", `server_audit_query_log_limit = ${s.queryLogLimit}`),
  );
  return out;
}
