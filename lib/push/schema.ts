/**
 * The central store's schema: one row per pushing server (what it last
 * acknowledged, what its data covers), and per server the activity of each
 * logged `user@host`, its proxy logins, the audit data it lost to rotation
 * and the accounts it defines. InnoDB,
 * primary keys everywhere (Galera needs them), `utf8mb4_bin` names, every key
 * led by the server id so that servers pushing through different nodes never
 * conflict. Versioned in `schema_version`; created or migrated on first use.
 *
 * @module
 */

import { CentralError, type Deadline, type Link, query } from "./connect.ts";

const TABLE = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin";

/** The longest names the columns hold: MariaDB's own limits for users and hosts. */
export const COLUMN_LIMITS = { serverId: 64, user: 128, host: 255, proxyHost: 128 } as const;

/** Migrations, each a list of statements; `schema_version.version` is how many have run. */
const MIGRATIONS: string[][] = [
  [
    `CREATE TABLE IF NOT EXISTS servers (
       server_id VARCHAR(64) NOT NULL, cluster VARCHAR(64) NOT NULL,
       incarnation VARCHAR(64) NOT NULL, acked_seq BIGINT NOT NULL,
       watched_since_ms BIGINT NULL, data_until_ms BIGINT NULL, pushed_ms BIGINT NOT NULL,
       accounts_hash CHAR(64) NULL, accounts_read_ms BIGINT NULL,
       name_resolution VARCHAR(8) NULL,
       self_user VARCHAR(128) NULL, self_host VARCHAR(255) NULL,
       client_user VARCHAR(128) NULL, client_host VARCHAR(255) NULL,
       PRIMARY KEY (server_id)) ${TABLE}`,
    `CREATE TABLE IF NOT EXISTS activity (
       server_id VARCHAR(64) NOT NULL, name VARCHAR(128) NOT NULL, host VARCHAR(255) NOT NULL,
       logins BIGINT NOT NULL, first_login_ms BIGINT NULL, last_login_ms BIGINT NULL,
       failed_attempts BIGINT NOT NULL, last_failed_ms BIGINT NULL,
       PRIMARY KEY (server_id, name, host)) ${TABLE}`,
    `CREATE TABLE IF NOT EXISTS proxy_logins (
       server_id VARCHAR(64) NOT NULL, name VARCHAR(128) NOT NULL, host VARCHAR(128) NOT NULL,
       proxied_user VARCHAR(128) NOT NULL, proxied_host VARCHAR(255) NOT NULL,
       logins BIGINT NOT NULL, last_login_ms BIGINT NOT NULL,
       PRIMARY KEY (server_id, name, host, proxied_user, proxied_host)) ${TABLE}`,
    `CREATE TABLE IF NOT EXISTS losses (
       server_id VARCHAR(64) NOT NULL, detected_ms BIGINT NOT NULL, fingerprint CHAR(64) NOT NULL,
       path VARCHAR(1024) NOT NULL, unread_bytes BIGINT NOT NULL, from_ms BIGINT NULL,
       to_ms BIGINT NOT NULL, PRIMARY KEY (server_id, detected_ms, fingerprint)) ${TABLE}`,
    `CREATE TABLE IF NOT EXISTS defined_accounts (
       server_id VARCHAR(64) NOT NULL, name VARCHAR(128) NOT NULL, host VARCHAR(255) NOT NULL,
       PRIMARY KEY (server_id, name, host)) ${TABLE}`,
  ],
];

/** The central schema version this build writes. */
export const CENTRAL_SCHEMA_VERSION = MIGRATIONS.length;

async function version(link: Link, deadline: Deadline): Promise<number | undefined> {
  try {
    const rows = await query(link, "SELECT version FROM schema_version WHERE id = 1", [], deadline);
    return rows.length === 0 ? 0 : Number(rows[0].version);
  } catch (e) {
    if ((e as { errno?: number }).errno === 1146) return undefined;
    throw e;
  }
}

/**
 * Creates or migrates the schema. Every statement is idempotent, so servers
 * migrating at once (DDL in Galera runs on every node in order) do no harm.
 *
 * @example
 * ```ts
 * await migrateCentral(link, { at: Date.now() + 30_000, now: Date.now });
 * ```
 * @throws {CentralError} when the central schema is newer than this build's.
 */
export async function migrateCentral(link: Link, deadline: Deadline): Promise<void> {
  const found = await version(link, deadline);
  if (found === CENTRAL_SCHEMA_VERSION) return;
  if (found !== undefined && found > CENTRAL_SCHEMA_VERSION) {
    throw new CentralError(
      `Central schema ${found} is newer than this conntracker's (${CENTRAL_SCHEMA_VERSION})`,
    );
  }
  await query(
    link,
    `CREATE TABLE IF NOT EXISTS schema_version (
       id TINYINT NOT NULL, version INT NOT NULL, PRIMARY KEY (id)) ${TABLE}`,
    [],
    deadline,
  );
  for (let v = found ?? 0; v < CENTRAL_SCHEMA_VERSION; v++) {
    for (const sql of MIGRATIONS[v]) await query(link, sql, [], deadline);
  }
  await query(
    link,
    `INSERT INTO schema_version (id, version) VALUES (1, ?)
     ON DUPLICATE KEY UPDATE version = GREATEST(version, VALUES(version))`,
    [CENTRAL_SCHEMA_VERSION],
    deadline,
  );
}

/**
 * Checks, for a reader (who may not create tables), that the schema is there
 * and not newer than this build's.
 *
 * @example
 * ```ts
 * await checkCentral(link, { at: Date.now() + 30_000, now: Date.now });
 * ```
 * @throws {CentralError} when there is no schema yet or it is newer.
 */
export async function checkCentral(link: Link, deadline: Deadline): Promise<void> {
  const found = await version(link, deadline);
  if (!found) throw new CentralError("The central store has no data yet: no server has pushed");
  if (found > CENTRAL_SCHEMA_VERSION) {
    throw new CentralError(
      `Central schema ${found} is newer than this conntracker's (${CENTRAL_SCHEMA_VERSION})`,
    );
  }
}
