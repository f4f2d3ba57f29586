/**
 * Times as the database holds them: text in the old tool's `TimeFormatDB`
 * layout and `TimeLocation` zone (the `Accounts.last_seen` column), read back
 * also when Go's SQLite driver wrote them as ISO 8601.
 *
 * @module
 */

import type { Layout } from "../time/layout.ts";
import { formatInstant, parseInstant, type Zone } from "../time/zone.ts";

/** How the database writes times: the old tool's `TimeFormatDB` in `TimeLocation`. */
export interface StoredTimes {
  layout: Layout;
  zone: Zone;
}

/**
 * Parses a stored time: the `TimeFormatDB` layout, else ISO 8601 as Go's
 * SQLite driver writes `time.Time`.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
 * parseStoredTime(times, "2024-10-14 13:22:57+02:00"); // 1728904977000
 * ```
 */
export function parseStoredTime(times: StoredTimes, text: string): number | undefined {
  const parsed = parseInstant(times.layout, times.zone, text);
  if (parsed !== undefined) return parsed;
  const iso = Date.parse(text.trim().replace(" ", "T").replace(/ ([+-]\d\d:?\d\d)$/, "$1"));
  return Number.isNaN(iso) ? undefined : iso;
}

/**
 * Formats an instant as the database stores it.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
 * formatStoredTime(times, 1728904977000); // "2024-10-14 11:22:57+00:00"
 * ```
 */
export function formatStoredTime(times: StoredTimes, epochMs: number): string {
  return formatInstant(times.layout, times.zone, epochMs);
}
