/**
 * The `[central]` section of the ini file: where this server pushes its
 * activity (a MariaDB server or a Galera cluster), checked like every other
 * key. Parsing is pure; the host name and the cluster name are looked up when
 * a push runs.
 *
 * @module
 */

/** A `[central]` key with a value that makes no sense. */
export class CentralConfigError extends Error {
  /** The key at fault. */
  key: string;
  /** Creates the error. */
  constructor(key: string, message: string) {
    super(message);
    this.name = "CentralConfigError";
    this.key = key;
  }
}

/** Where a central server listens: TCP, or a Unix socket path. */
export type CentralHost =
  | { kind: "tcp"; host: string; port: number; text: string }
  | { kind: "socket"; path: string; text: string };

/** The checked `[central]` section. */
export interface CentralConfig {
  /** Tried in order; the first that is up (and in the Primary Component) takes the push. */
  hosts: CentralHost[];
  database: string;
  user: string;
  /** A file holding the password (its first line), or `""` for none. */
  passwordFile: string;
  /** A CA certificate file; set: TLS, verified against it. */
  tlsCa: string;
  /** Whether TLS is used without a CA (`false`: not verified) or verified (`true`). */
  tlsVerify: boolean | undefined;
  /** This server's id at the central store; `undefined`: this machine's host name. */
  serverId: string | undefined;
  /** The Galera cluster this server belongs to; `undefined`: asked from the local server. */
  cluster: string | undefined;
  /** Whether the accounts the local server defines (`mysql.user`) are pushed too. */
  pushAccounts: boolean;
}

/** The keys of `[central]`, their defaults and what they mean (the source of the ini-dist text). */
export const CENTRAL_KEYS: Record<string, { default: string; doc: string }> = {
  Hosts: {
    default: "",
    doc: "host:port, host (port 3306) or a socket path; several comma-separated, tried in order.",
  },
  Database: { default: "conntracker", doc: "The central database (created by the DBA)." },
  User: { default: "conntracker", doc: "The account that pushes (see the README's GRANT)." },
  PasswordFile: {
    default: "",
    doc: "A file (mode 0600) whose first line is that account's password. Never put the " +
      "password itself in this file.",
  },
  TlsCa: { default: "", doc: "A CA certificate file: connect with TLS, verified against it." },
  TlsVerify: {
    default: "",
    doc: "true: TLS, certificate verified (with TlsCa or the system's CAs); false: TLS, not " +
      "verified. Empty: TLS only when TlsCa is set.",
  },
  ServerId: { default: "", doc: "This server's name at the central store. Empty: the host name." },
  Cluster: {
    default: "",
    doc: "The Galera cluster this server is a node of. Empty: the local server's " +
      "wsrep_cluster_name, asked with MariadbClient (none when it cannot be asked).",
  },
  PushAccounts: {
    default: "true",
    doc: "true: also push the accounts the local server defines (mysql.user, through " +
      "MariadbClient), so the fleet report can name accounts never used anywhere.",
  },
};

/** The longest server id and cluster name the central schema holds. */
export const MAX_ID_LENGTH = 64;

/** Identifiers MariaDB takes unquoted in a database name (we quote it anyway). */
const DATABASE_NAME = /^[A-Za-z0-9_$]{1,64}$/;

function parseHost(text: string): CentralHost {
  if (text.startsWith("/")) return { kind: "socket", path: text, text };
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]/]+))(?::(\d{1,5}))?$/.exec(text);
  const port = m?.[3] === undefined ? 3306 : Number(m[3]);
  if (!m || port < 1 || port > 65535) {
    throw new CentralConfigError(
      "Hosts",
      `Key Hosts: "${text}" is not host:port, host, [ipv6]:port or a socket path`,
    );
  }
  return { kind: "tcp", host: m[1] ?? m[2], port, text };
}

function boolean(key: string, text: string): boolean {
  const lower = text.toLowerCase();
  if (lower !== "true" && lower !== "false") {
    throw new CentralConfigError(key, `Key ${key} must be true or false, got "${text}"`);
  }
  return lower === "true";
}

function name(key: string, text: string): string | undefined {
  if (text === "") return undefined;
  // deno-lint-ignore no-control-regex
  if ([...text].length > MAX_ID_LENGTH || /[\x00-\x1f\x7f]/.test(text)) {
    throw new CentralConfigError(
      key,
      `Key ${key} must be at most ${MAX_ID_LENGTH} printable characters, got "${text}"`,
    );
  }
  return text;
}

/**
 * Checks the `[central]` section, as `npm:ini` parsed it.
 *
 * @example
 * ```ts
 * const c = parseCentralSection({
 *   Hosts: "db1:3306, db2:3306, /run/mysqld/mysqld.sock",
 *   PasswordFile: "/etc/conntracker/central.password",
 * });
 * c.hosts.length; // 3
 * c.database; // "conntracker"
 * ```
 * @throws {CentralConfigError} naming the key and value at fault.
 */
export function parseCentralSection(raw: Record<string, unknown>): CentralConfig {
  for (const key of Object.keys(raw)) {
    if (!(key in CENTRAL_KEYS)) {
      throw new CentralConfigError(
        key,
        `Unknown key "${key}" in [central] (known keys: ${Object.keys(CENTRAL_KEYS).join(", ")})`,
      );
    }
  }
  const get = (key: string): string => {
    const v = raw[key];
    if (v === undefined) return CENTRAL_KEYS[key].default;
    if (typeof v === "boolean") return String(v);
    if (typeof v !== "string") {
      throw new CentralConfigError(key, `Key ${key} must have one value, got ${JSON.stringify(v)}`);
    }
    return v.trim();
  };
  const hosts = get("Hosts").split(",").map((h) => h.trim()).filter((h) => h !== "");
  if (hosts.length === 0) {
    throw new CentralConfigError("Hosts", "Key Hosts must name at least one central server");
  }
  const database = get("Database");
  if (!DATABASE_NAME.test(database)) {
    throw new CentralConfigError(
      "Database",
      `Key Database must be letters, digits, _ or $ (at most 64), got "${database}"`,
    );
  }
  const user = get("User");
  if (user === "" || [...user].length > 128) {
    throw new CentralConfigError("User", `Key User must be 1 to 128 characters, got "${user}"`);
  }
  const tlsVerify = get("TlsVerify");
  return {
    hosts: hosts.map(parseHost),
    database,
    user,
    passwordFile: get("PasswordFile"),
    tlsCa: get("TlsCa"),
    tlsVerify: tlsVerify === "" ? undefined : boolean("TlsVerify", tlsVerify),
    serverId: name("ServerId", get("ServerId")),
    cluster: name("Cluster", get("Cluster")),
    pushAccounts: boolean("PushAccounts", get("PushAccounts")),
  };
}
