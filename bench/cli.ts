/**
 * How the bench runs conntracker: exactly the command of the `start` task in
 * deno.json (its permissions and V8 flags, which the `build` task bakes into
 * the binary), but without `deno task` in between.
 *
 * `deno task` itself costs 5-9 ms a run on our 2 cores (a second Deno
 * process that reads deno.json), 10-15 % of a run with nothing new, so the
 * bench does not time it. Instead it lets `deno task` resolve the task once:
 * it starts `deno task start --version`, reads the command line and working
 * directory of the `deno run` child from /proc, and from then on runs that
 * command directly. deno.json stays the only owner of the flags, and nothing
 * here parses a task string.
 *
 * @module
 */

import { join } from "node:path";
import { ROOT } from "../tests/helpers.ts";
import type { CommandSpec } from "./measure.ts";

/** The `start` task's command could not be learnt. */
export class StartTaskError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "StartTaskError";
  }
}

const MARKER = "--version";

async function children(pid: number): Promise<number[]> {
  const found: number[] = [];
  for await (const task of Deno.readDir(`/proc/${pid}/task`)) {
    const text = await Deno.readTextFile(`/proc/${pid}/task/${task.name}/children`);
    for (const id of text.split(" ")) if (id.trim()) found.push(Number(id));
  }
  return found;
}

async function commandLine(pid: number): Promise<string[]> {
  return (await Deno.readTextFile(`/proc/${pid}/cmdline`)).split("\0").slice(0, -1);
}

/** One try: the `deno` process below `deno task start --version`, as it ran. */
async function catchStartChild(): Promise<CommandSpec | undefined> {
  const taskArgs = ["task", "--quiet", "--config", join(ROOT, "deno.json"), "start", MARKER];
  const task = new Deno.Command(Deno.execPath(), {
    args: taskArgs,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let done = false;
  const output = task.output().then((out) => {
    done = true;
    return out;
  });
  let caught: CommandSpec | undefined;
  // Breadth first through the process tree, until the process that runs main.ts.
  while (!done && !caught) {
    try {
      const queue = await children(task.pid);
      while (queue.length > 0 && !caught) {
        const pid = queue.shift()!;
        const argv = await commandLine(pid);
        // Between fork and exec, a child still shows its parent's command line.
        const forked = argv.slice(1).join("\0") === taskArgs.join("\0");
        if (argv[0] === Deno.execPath() && argv.at(-1) === MARKER && !forked) {
          caught = {
            cmd: argv[0],
            args: argv.slice(1, -1),
            cwd: await Deno.readLink(`/proc/${pid}/cwd`),
          };
        } else queue.push(...await children(pid));
      }
    } catch {
      // A process ended while we looked: look again.
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const out = await output;
  if (!out.success) {
    throw new StartTaskError(
      `deno task start ${MARKER} exited with ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return caught;
}

/**
 * The command the `start` task runs, without its arguments: append
 * conntracker's own (`--config …`) and run it in `cwd`.
 *
 * @example
 * ```ts
 * const start = await startTaskCommand();
 * // { cmd: "/usr/bin/deno", args: ["run", "--allow-read", …, "main.ts"], cwd: "/repo" }
 * ```
 * @throws {StartTaskError} when the task fails or its process could not be seen.
 */
export async function startTaskCommand(): Promise<CommandSpec> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const caught = await catchStartChild();
    if (caught) return caught;
  }
  throw new StartTaskError(
    `Could not see the process of "deno task start ${MARKER}" in /proc (three tries)`,
  );
}
