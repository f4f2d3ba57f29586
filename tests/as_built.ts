/**
 * The permissions deno.json's tasks give the program, and main.ts run under
 * exactly the build task's: what the binary and `deno task start` may do, so
 * that a test shows a feature working under them and not only under
 * `--allow-all`.
 *
 * @module
 */

import { join } from "node:path";
import { type CliResult, ROOT } from "./helpers.ts";

const DENO_JSON = JSON.parse(Deno.readTextFileSync(join(ROOT, "deno.json")));

/**
 * A task of deno.json as its words (the tasks quote nothing).
 *
 * @example
 * ```ts
 * taskWords("start").slice(0, 2); // ["deno", "run"]
 * ```
 */
export function taskWords(name: string): string[] {
  const task = DENO_JSON.tasks[name];
  if (typeof task !== "string") throw new Error(`deno.json has no task "${name}"`);
  return task.trim().split(/\s+/);
}

/**
 * The words of a deno command line that decide what the program may do.
 *
 * @example
 * ```ts
 * permissionFlags(["deno", "run", "--allow-read", "--quiet", "main.ts"]); // ["--allow-read"]
 * ```
 */
export function permissionFlags(words: string[]): string[] {
  return words.filter((w) =>
    /^(--(allow|deny)-[a-z]+(=.*)?|-A|--allow-all|--v8-flags=.*)$/.test(w)
  );
}

/**
 * Runs main.ts under exactly the build task's permissions (and no prompt);
 * `extra` are more deno flags (e.g. a `--deny-read`), `wrap` a command to run
 * it under (e.g. `setpriv`), `env` more environment variables.
 *
 * @example
 * ```ts
 * const { code } = await runAsBuilt(["--config", "/tmp/x/conntracker.ini", "check"]);
 * ```
 */
export async function runAsBuilt(
  args: string[],
  options: { extra?: string[]; wrap?: string[]; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const { extra = [], wrap = [], env = {} } = options;
  const command = [
    ...wrap,
    Deno.execPath(),
    "run",
    "--quiet",
    "--no-prompt",
    ...permissionFlags(taskWords("build")),
    ...extra,
    join(ROOT, "main.ts"),
    ...args,
  ];
  const out = await new Deno.Command(command[0], {
    args: command.slice(1),
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}
