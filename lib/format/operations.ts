/**
 * The operations of the audit log that concern connections: the one list the
 * parser, the scanner and the aggregation share.
 *
 * @module
 */

/** `CONNECT`, … as the parser spells them (`CHANGE_USER` is spelled `CHANGEUSER`). */
export type ConnectionOperation =
  | "CONNECT"
  | "DISCONNECT"
  | "FAILED_CONNECT"
  | "CHANGEUSER"
  | "PROXY_CONNECT";

/**
 * Operations whose lines are connection events: database, object, retcode
 * and an optional TLS field follow the operation.
 *
 * @example
 * ```ts
 * CONNECTION_OPERATIONS.has("FAILED_CONNECT"); // true
 * ```
 */
export const CONNECTION_OPERATIONS: ReadonlySet<string> = new Set<ConnectionOperation>([
  "CONNECT",
  "DISCONNECT",
  "FAILED_CONNECT",
  "CHANGEUSER",
  "PROXY_CONNECT",
]);

/**
 * Whether an operation names an account signing in (or trying to): every
 * connection event but `DISCONNECT`. These are the lines the scanner looks for.
 *
 * @example
 * ```ts
 * isSignIn("PROXY_CONNECT"); // true
 * isSignIn("DISCONNECT"); // false
 * ```
 */
export function isSignIn(operation: string): boolean {
  return operation !== "DISCONNECT" && CONNECTION_OPERATIONS.has(operation);
}
