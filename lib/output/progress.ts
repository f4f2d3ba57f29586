/**
 * The progress bar of a long run: on stderr, only when stderr is a terminal
 * (never under cron or systemd) and the run has much to read. `cli-progress`
 * is imported only when stderr is a terminal, so that runs under cron do not
 * load it.
 *
 * @module
 */

import process from "node:process";
import type { ReadProgress } from "../track/schedule.ts";

/** A run draws a bar only when it has at least this many new bytes to read. */
const PROGRESS_MIN_BYTES = 64 << 20;

/** A bar fed by a run's progress. */
export interface ProgressBar {
  /** Takes the run's progress (`runTracking`'s `onProgress`). */
  update(progress: ReadProgress): void;
  /** Removes the bar, if one was drawn. */
  stop(): void;
}

/** When to draw. */
export interface ProgressOptions {
  /** Whether stderr is a terminal (default: asks Deno). */
  terminal?: boolean;
  /** The least new bytes worth a bar (default {@link PROGRESS_MIN_BYTES}). */
  minBytes?: number;
}

const MB = 1 << 20;

/**
 * Creates a progress bar: bytes, rate, files and ETA, drawn on stderr with
 * `cli-progress` once the run knows it has `minBytes` or more to read.
 *
 * @example
 * ```ts
 * const bar = await createProgressBar();
 * bar.update({ bytesDone: 0, bytesTotal: 1 << 30, filesDone: 0, filesTotal: 3 });
 * bar.stop();
 * ```
 */
export async function createProgressBar(options: ProgressOptions = {}): Promise<ProgressBar> {
  const terminal = options.terminal ?? Deno.stderr.isTerminal();
  const minBytes = options.minBytes ?? PROGRESS_MIN_BYTES;
  // Loaded before the run starts, so that its first progress can draw the bar.
  const cliProgress = terminal ? (await import("cli-progress")).default : undefined;
  let bar: { update(value: number, payload: object): void; stop(): void } | undefined;
  let decided = false;
  let startedMs = 0;
  const payload = (p: ReadProgress) => {
    const seconds = (Date.now() - startedMs) / 1000;
    return {
      done: (p.bytesDone / MB).toFixed(0),
      all: (p.bytesTotal / MB).toFixed(0),
      rate: seconds > 0 ? (p.bytesDone / MB / seconds).toFixed(1) : "0.0",
      files: p.filesDone,
      allFiles: p.filesTotal,
    };
  };
  return {
    update(p) {
      if (!decided) {
        decided = true;
        if (!cliProgress || p.bytesTotal < minBytes) return;
        startedMs = Date.now();
        const started = new cliProgress.SingleBar({
          stream: process.stderr,
          format: "{bar} {percentage}% | {done}/{all} MB | {rate} MB/s | files {files}/{allFiles}" +
            " | ETA {eta_formatted}",
          hideCursor: true,
          clearOnComplete: true,
          fps: 5,
        }, cliProgress.Presets.shades_classic);
        started.start(p.bytesTotal, p.bytesDone, payload(p));
        bar = started;
        return;
      }
      bar?.update(p.bytesDone, payload(p));
    },
    stop() {
      bar?.stop();
    },
  };
}
