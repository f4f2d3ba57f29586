/**
 * Command-line mistakes: a value that makes no sense, found after the
 * argument parser accepted it.
 *
 * @module
 */

/** A command-line value that makes no sense. */
export class UsageError extends Error {
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * new UsageError('Invalid --sort "size": expected last_seen, name, logins');
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
