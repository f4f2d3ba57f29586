/**
 * The watermark: the old tool's `mysql@localhost` row, the newest audit
 * file's modification time, written for the old tool's readers. Runs do not
 * use it to choose files; only the first run on an old tool's database takes
 * the files not newer than it as read by the old tool.
 *
 * @module
 */

/** What the next watermark depends on. */
export interface WatermarkInputs {
  /** Modification times of the audit files read this run (other files never move it). */
  handledMtimes: number[];
  /** Modification times of files that failed: the watermark stays below them. */
  failedMtimes: number[];
  /** The stored watermark. */
  previous?: number;
}

/**
 * The watermark after a run: the newest audit file read, whole seconds, never
 * at or past a file that failed; `undefined` when it does not move forward.
 *
 * @example
 * ```ts
 * nextWatermark({ handledMtimes: [5_500], failedMtimes: [], previous: 1_000 }); // 5000
 * nextWatermark({ handledMtimes: [5_500], failedMtimes: [3_200] }); // 3000
 * ```
 */
export function nextWatermark(inputs: WatermarkInputs): number | undefined {
  // Only audit files move the watermark: other files in a data directory change all
  // the time, and an mtime of theirs could pass over lines written to an audit file
  // after it was read.
  if (inputs.handledMtimes.length === 0) return undefined;
  let mark = Math.floor(Math.max(...inputs.handledMtimes) / 1000) * 1000;
  for (const failed of inputs.failedMtimes) {
    mark = Math.min(mark, Math.ceil(failed / 1000) * 1000 - 1000);
  }
  const { previous } = inputs;
  return previous === undefined || mark > previous ? mark : undefined;
}
