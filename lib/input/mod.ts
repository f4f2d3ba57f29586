/**
 * Input: which files to read and their bytes, knowing nothing of what a
 * line means.
 *
 * - `discover.ts`: the files `AuditLogPath` names, oldest first;
 * - `head.ts`: a file's identity (its fingerprint) and the start of its content;
 * - `tail.ts`: a file's last line and its mtime (the time-zone check);
 * - `source.ts`: complete lines of a range of a file, streamed in blocks, and
 *   cutting a file into ranges;
 * - `file.ts`: opening and streaming plain and gzip bytes, and
 *   {@link SourceError} with the kind of problem (one owner for how a
 *   file-system error is said);
 * - `mariadb_client.ts`: asking the running server through its command-line
 *   client (`check`, `report --accounts-from-server`), and {@link ServerError};
 * - `user.ts`: the user this process runs as (for permission problems).
 *
 * A new source of bytes (the systemd journal, say) goes here, beside
 * `source.ts`.
 *
 * @module
 */

export * from "./discover.ts";
export * from "./file.ts";
export * from "./head.ts";
export * from "./mariadb_client.ts";
export * from "./source.ts";
export * from "./tail.ts";
export * from "./user.ts";
