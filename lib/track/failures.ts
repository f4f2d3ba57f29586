/**
 * Files a run could not read. A file that vanished (rotated away) between
 * its listing and its reading is no failure (but no run can tell then what
 * else vanished); any other is logged, counted, and holds the watermark back.
 *
 * @module
 */

import type { Candidate } from "../input/discover.ts";
import { SourceError } from "../input/file.ts";
import type { Logger } from "../log.ts";

/** The files a run could not read. */
export interface Failures {
  /** One per file (or listing) that failed; the others were read. */
  errors: { path: string; message: string }[];
  /** The files that failed: the watermark stays below them, and they have not vanished. */
  files: Candidate[];
  /** Whether a listed file vanished before it could be read (a rotation during the run). */
  vanishedMidRun: boolean;
}

/**
 * Records a file that could not be read: a {@link SourceError}, else the
 * error is thrown again.
 *
 * @example
 * ```ts
 * import { createLogger } from "../log.ts";
 * import { sourceError } from "../input/file.ts";
 * const failures: Failures = { errors: [], files: [], vanishedMidRun: false };
 * const file = { path: "/x", size: 0, mtimeMs: 0, dev: 0, ino: 0 };
 * recordFailure(failures, file, sourceError("/x", "cannot be opened", new Error("EIO")),
 *   createLogger("WARN"));
 * failures.errors.length; // 1
 * ```
 */
export function recordFailure(failures: Failures, file: Candidate, e: unknown, log: Logger): void {
  if (!(e instanceof SourceError)) throw e;
  if (e.problem === "not found") {
    log.log("WARN", "file vanished before it was read (rotated?)", { file: file.path });
    failures.vanishedMidRun = true;
    return;
  }
  failures.errors.push({ path: e.path, message: e.message });
  failures.files.push(file);
  log.log("ERROR", `audit file ${e.message}`, { file: e.path });
}
