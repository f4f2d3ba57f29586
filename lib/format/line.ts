/**
 * The shape of an audit line, apart from its fields' meaning: the layout of
 * the timestamp it starts with, and how many commas that timestamp contains
 * (so that the operation is found as the seventh field after it). A second
 * line form (audit events wrapped in syslog lines) is another kind here.
 *
 * @module
 */

import type { Layout } from "../time/layout.ts";

/** How the lines of an audit log are written. */
export interface LineFormat {
  /** The layout of the timestamp each line starts with (`TimeFormatAudit`). */
  timestamp: Layout;
  /** How many commas that timestamp itself contains. */
  timestampCommas: number;
}

/**
 * The line format of a log whose timestamps have `timestamp`'s layout.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * lineFormat(compileLayout("20060102 15:04:05,000")).timestampCommas; // 1
 * ```
 */
export function lineFormat(timestamp: Layout): LineFormat {
  let commas = 0;
  for (const t of timestamp.tokens) {
    if (t.kind === "literal") commas += t.text.split(",").length - 1;
    if (t.kind === "fraction" && t.sep === ",") commas++;
  }
  return { timestamp, timestampCommas: commas };
}
