/**
 * The user this process runs as, for messages about permissions: a file that
 * cannot be read is a question of who reads it.
 *
 * @module
 */

/**
 * The user this process runs as: its name from `/etc/passwd` and its uid, or
 * the uid alone when the name cannot be found.
 *
 * @example
 * ```ts
 * processUser(); // "conntracker (uid 998)"
 * ```
 */
export function processUser(): string {
  const uid = Deno.uid();
  try {
    const line = Deno.readTextFileSync("/etc/passwd").split("\n")
      .find((l) => l.split(":")[2] === String(uid));
    if (line) return `${line.split(":")[0]} (uid ${uid})`;
  } catch {
    // The uid alone, then.
  }
  return `uid ${uid}`;
}
