/**
 * Format: what an audit line is.
 *
 * - `line.ts`: the shape of a line ({@link LineFormat}: the timestamp layout
 *   and the commas it holds);
 * - `operations.ts`: the connection operations, listed once;
 * - `record.ts`: one line parsed into its fields;
 * - `scan.ts`: the hot path, finding the lines that matter in a block
 *   without decoding the others, with the WebAssembly scanner of
 *   `scanner_wasm.ts` (built from `wasm/scanner.ts` by `deno task wasm`);
 * - `identify.ts`: whether a file is an audit log, by its first line;
 * - `account.ts`: account names (`user@host`): parsing, printing, map keys.
 *
 * A second line form (audit events wrapped in syslog lines) goes here: a new
 * kind of {@link LineFormat}, and its parsing beside `record.ts`.
 *
 * @module
 */

export * from "./account.ts";
export * from "./identify.ts";
export * from "./line.ts";
export * from "./operations.ts";
export * from "./record.ts";
export * from "./scan.ts";
