/**
 * Format: what an audit line is.
 *
 * - `line.ts`: the shape of a line ({@link LineFormat}: the timestamp layout
 *   and the commas it holds);
 * - `operations.ts`: the connection operations, listed once;
 * - `record.ts`: one line parsed into its fields;
 * - `syslog.ts`: audit events wrapped in syslog lines (rsyslog's RFC 3339
 *   and traditional forms), and the traditional timestamp's year;
 * - `scan.ts`: the hot path, finding the lines that matter in a block
 *   without decoding the others, with the WebAssembly scanner of
 *   `scanner_wasm.ts` (built from `wasm/scanner.ts` by `deno task wasm`);
 * - `identify.ts`: whether a file is an audit log, and in which form
 *   (`AuditFormat`), by its first line;
 * - `account.ts`: account names (`user@host`): parsing, printing, map keys.
 *
 * `line.ts` tells the plugin's own lines from syslog's ({@link lineTimestamp},
 * {@link timestampReader}); the scanner does the same for the lines it finds.
 *
 * @module
 */

export * from "./account.ts";
export * from "./identify.ts";
export * from "./line.ts";
export * from "./operations.ts";
export * from "./record.ts";
export * from "./scan.ts";
export * from "./syslog.ts";
