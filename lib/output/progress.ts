/**
 * The progress bar of a long run: on stderr, only when stderr is a terminal
 * (never under cron or systemd) and the run has much to read. `cli-progress`
 * is imported only then, so that other runs do not load it.
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
 * `cli-progress` once the run knows it has `minBytes` or more to read (from
 * the first progress that comes after `cli-progress` has loaded).
 *
 * @example
 * ```ts
 * const bar = createProgressBar();
 * bar.update({ bytesDone: 0, bytesTotal: 1 << 30, filesDone: 0, filesTotal: 3 });
 * bar.stop();
 * ```
 */
export function createProgressBar(options: ProgressOptions = {}): ProgressBar {
  const terminal = options.terminal ?? Deno.stderr.isTerminal();
  const minBytes = options.minBytes ?? PROGRESS_MIN_BYTES;
  let bar: { update(value: number, payload: object): void; stop(): void } | undefined;
  let decided = false;
  let stopped = false;
  let startedMs = 0;
  let latest: ReadProgress;
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
  const draw = async () => {
    const { default: cliProgress } = await import("cli-progress");
    if (stopped) return;
    const started = new cliProgress.SingleBar({
      stream: process.stderr,
      format: "{bar} {percentage}% | {done}/{all} MB | {rate} MB/s | files {files}/{allFiles}" +
        " | ETA {eta_formatted}",
      hideCursor: true,
      clearOnComplete: true,
      fps: 5,
    }, cliProgress.Presets.shades_classic);
    started.start(latest.bytesTotal, latest.bytesDone, payload(latest));
    bar = started;
  };
  return {
    update(p) {
      latest = p;
      if (!decided) {
        decided = true;
        if (!terminal || p.bytesTotal < minBytes) return;
        startedMs = Date.now();
        // Only a help: a bar that cannot be drawn leaves the run as it is.
        draw().catch(() => {});
        return;
      }
      bar?.update(p.bytesDone, payload(p));
    },
    stop() {
      stopped = true;
      bar?.stop();
    },
  };
}
