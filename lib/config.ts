/**
 * The ini file: the old Go tool's keys, unchanged, with its defaults, checked
 * strictly.
 *
 * @module
 */

import ini from "ini";
import { compileLayout, type Layout, LayoutError } from "./time/layout.ts";
import { type Level, LEVELS } from "./log.ts";
import { type CentralConfig, CentralConfigError, parseCentralSection } from "./push/config.ts";
import { loadZone, type Zone, ZoneError } from "./time/zone.ts";

/** Where the config is read from when neither `--config` nor the environment names one. */
export const DEFAULT_CONFIG_PATH = "/etc/conntracker/conntracker.ini";

/** The environment variable naming the config file. */
export const CONFIG_ENV = "CONNTRACKER_CONFIG";

/** A missing, unreadable or invalid config file. */
export class ConfigError extends Error {
  /** The config file. */
  file: string;
  /** The key at fault, if one is. */
  key?: string;
  /** Creates the error. */
  constructor(file: string, message: string, key?: string) {
    super(message);
    this.name = "ConfigError";
    this.file = file;
    this.key = key;
  }
}

/** The checked configuration. */
export interface Config {
  /** The config file it came from. */
  file: string;
  auditLogPath: string;
  /** Only files named like this (`server_audit.log`, `.1`, `.2.gz` …), when set. */
  auditLogFile?: string;
  /** Whether a directory in `auditLogPath` is searched below its top level. */
  auditLogRecursive: boolean;
  sqlitePath: string;
  timeFormatAudit: Layout;
  timeFormatDb: Layout;
  timeLocation: Zone;
  maxWorkers: number;
  logLevel: Level;
  /** How long a run waits for another run holding the database, in milliseconds. */
  lockTimeoutMs: number;
  /** The MariaDB client `report --accounts-from-server` runs. */
  mariadbClient: string;
  /** An option file for that client (`--defaults-extra-file`), or `""`. */
  mariadbDefaultsFile: string;
  /** The `[central]` section: where runs push their activity, when set. */
  central?: CentralConfig;
  /** The Prometheus textfile-collector file written after each run, when set. */
  metricsFile?: string;
}

/** Every key, its default, and what it means: the source of `conntracker.ini-dist`. */
export const KEYS: Record<string, { default: string; doc: string }> = {
  AuditLogPath: {
    default: "/var/lib/mysql",
    doc: "A directory, a file or a glob (server_audit.log*). Directory entries are read " +
      "only when their content looks like an audit log or gzip.",
  },
  AuditLogFile: {
    default: "",
    doc: "Optional. In a directory, only this name and its rotations (name.1, name.2.gz …).",
  },
  AuditLogRecursive: {
    default: "false",
    doc: "true: also search the directories below AuditLogPath.",
  },
  SqlitePath: { default: "/var/lib/mysql/audit.sqlite", doc: "The SQLite database." },
  TimeFormatAudit: {
    default: "20060102 15:04:05",
    doc: "The audit log's timestamps: a Go layout, or MariaDB's " +
      "server_audit_timestamp_format value (e.g. %Y%m%d %H:%i:%s).",
  },
  TimeFormatDB: {
    default: "2006-01-02 15:04:05-07:00",
    doc: "How Accounts.last_seen is written: a Go layout.",
  },
  TimeLocation: {
    default: "Europe/Zurich",
    doc: "The IANA zone the server writes its wall-clock timestamps in (Local: this system's).",
  },
  MaxWorkers: {
    default: "4",
    doc: "Threads that scan at once (1 to 256, never more than the cores), for 128 MB or more.",
  },
  LogLevel: { default: "ERROR", doc: "DEBUG, INFO, WARN or ERROR." },
  LockTimeout: {
    default: "60",
    doc: "Seconds a run waits for another run still writing the database.",
  },
  MariadbClient: {
    default: "mariadb",
    doc: "report --accounts-from-server: the MariaDB command-line client to run.",
  },
  MariadbDefaultsFile: {
    default: "",
    doc: "report --accounts-from-server: an option file for that client (socket, user, " +
      "password in [client]); empty: the client's own (~/.my.cnf, /etc/mysql/my.cnf).",
  },
  MetricsFile: {
    default: "",
    doc: "Optional. A Prometheus textfile-collector file (name ending .prom, e.g. " +
      "/var/lib/prometheus/node-exporter/conntracker.prom) rewritten after each run.",
  },
};

/** Section names that hold the keys, besides the top level (the old tool used `[default]`). */
const SECTIONS = new Set(["default"]);

function value(file: string, raw: Record<string, unknown>, key: string): string {
  const v = raw[key];
  if (v === undefined) return KEYS[key].default;
  // npm:ini turns bare true/false into booleans.
  if (typeof v === "boolean") return String(v);
  if (typeof v !== "string") {
    throw new ConfigError(file, `Key ${key} must have one value, got ${JSON.stringify(v)}`, key);
  }
  return v.trim();
}

function integer(file: string, key: string, text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) {
    throw new ConfigError(
      file,
      `Key ${key} must be a whole number from ${min} to ${max}, got "${text}"`,
      key,
    );
  }
  return n;
}

/**
 * Parses and checks the text of a config file. Keys may stand at the top level
 * or in a `[default]` section; unknown keys and sections are errors.
 *
 * @example
 * ```ts
 * const config = parseConfig("a.ini", "AuditLogPath = /var/log/mysql\nTimeLocation = UTC\n");
 * config.auditLogPath; // "/var/log/mysql"
 * config.maxWorkers; // 4
 * ```
 * @throws {ConfigError} naming the file, key and value at fault.
 */
export function parseConfig(file: string, text: string): Config {
  const parsed = ini.parse(text) as Record<string, unknown>;
  const raw: Record<string, unknown> = {};
  let central: CentralConfig | undefined;
  const take = (key: string, v: unknown) => {
    if (!(key in KEYS)) {
      throw new ConfigError(
        file,
        `Unknown key "${key}" (known keys: ${Object.keys(KEYS).join(", ")})`,
        key,
      );
    }
    if (key in raw) throw new ConfigError(file, `Key ${key} is set twice`, key);
    raw[key] = v;
  };
  for (const [key, v] of Object.entries(parsed)) {
    if (key.toLowerCase() === "central" && v !== null && typeof v === "object") {
      try {
        central = parseCentralSection(v as Record<string, unknown>);
      } catch (e) {
        if (e instanceof CentralConfigError) throw new ConfigError(file, e.message, e.key);
        throw e;
      }
    } else if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      if (!SECTIONS.has(key.toLowerCase())) {
        throw new ConfigError(
          file,
          `Unknown section "[${key}]" (keys go at the top or in [default])`,
        );
      }
      for (const [k, inner] of Object.entries(v)) take(k, inner);
    } else {
      take(key, v);
    }
  }
  const get = (key: string) => value(file, raw, key);
  const layout = (key: string) => {
    try {
      return compileLayout(get(key));
    } catch (e) {
      if (e instanceof LayoutError) throw new ConfigError(file, `Key ${key}: ${e.message}`, key);
      throw e;
    }
  };
  let timeLocation: Zone;
  try {
    timeLocation = loadZone(get("TimeLocation"));
  } catch (e) {
    if (e instanceof ZoneError) {
      throw new ConfigError(file, `Key TimeLocation: ${e.message}`, "TimeLocation");
    }
    throw e;
  }
  const level = get("LogLevel").toUpperCase();
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(
      file,
      `Key LogLevel must be one of ${LEVELS.join(", ")}, got "${get("LogLevel")}"`,
      "LogLevel",
    );
  }
  const recursive = get("AuditLogRecursive").toLowerCase();
  if (recursive !== "true" && recursive !== "false") {
    throw new ConfigError(
      file,
      `Key AuditLogRecursive must be true or false, got "${get("AuditLogRecursive")}"`,
      "AuditLogRecursive",
    );
  }
  for (const key of ["AuditLogPath", "SqlitePath", "MariadbClient"]) {
    if (get(key) === "") throw new ConfigError(file, `Key ${key} must not be empty`, key);
  }
  const metricsFile = get("MetricsFile");
  if (metricsFile !== "" && !/^\/.*[^/]\.prom$/.test(metricsFile)) {
    throw new ConfigError(
      file,
      `Key MetricsFile must be an absolute path ending in .prom, got "${metricsFile}"`,
      "MetricsFile",
    );
  }
  return {
    file,
    auditLogPath: get("AuditLogPath"),
    auditLogFile: get("AuditLogFile") || undefined,
    auditLogRecursive: recursive === "true",
    sqlitePath: get("SqlitePath"),
    timeFormatAudit: layout("TimeFormatAudit"),
    timeFormatDb: layout("TimeFormatDB"),
    timeLocation,
    maxWorkers: integer(file, "MaxWorkers", get("MaxWorkers"), 1, 256),
    logLevel: level as Level,
    lockTimeoutMs: integer(file, "LockTimeout", get("LockTimeout"), 0, 86_400) * 1000,
    mariadbClient: get("MariadbClient"),
    mariadbDefaultsFile: get("MariadbDefaultsFile"),
    central,
    metricsFile: metricsFile || undefined,
  };
}

/**
 * Picks the config file: the explicit path, else `$CONNTRACKER_CONFIG`, else
 * {@link DEFAULT_CONFIG_PATH}.
 *
 * @example
 * ```ts
 * configPath("/tmp/c.ini", {}); // "/tmp/c.ini"
 * configPath(undefined, { CONNTRACKER_CONFIG: "/srv/c.ini" }); // "/srv/c.ini"
 * ```
 */
export function configPath(explicit: string | undefined, env: Record<string, string>): string {
  return explicit ?? env[CONFIG_ENV] ?? DEFAULT_CONFIG_PATH;
}

/**
 * Reads and checks a config file.
 *
 * @example
 * ```ts
 * const config = await loadConfig("/etc/conntracker/conntracker.ini");
 * ```
 * @throws {ConfigError} when the file is missing, unreadable or invalid.
 */
export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    const bytes = await Deno.readFile(file);
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new ConfigError(file, "Config file not found");
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new ConfigError(file, "Config file is not readable (permission denied)");
    }
    if (e instanceof TypeError) throw new ConfigError(file, "Config file is not valid UTF-8");
    if (e instanceof Deno.errors.IsADirectory) {
      throw new ConfigError(file, "Config path is a directory");
    }
    throw new ConfigError(file, `Config file cannot be read: ${(e as Error).message}`);
  }
  return parseConfig(file, text);
}
