/**
 * The time-zone check: whether `TimeLocation` fits a log, told by its live
 * file. The server writes a line and the file's modification time is set by
 * that same write, so the last line's wall time, read in the server's zone,
 * falls at most seconds before the file's mtime. When the configured zone puts
 * it elsewhere and this machine's zone fits, the configured zone is wrong.
 *
 * @module
 */

import type { WallTime } from "./layout.ts";
import { offsetAt, wallInstants, wallToInstant, type Zone } from "./zone.ts";

/** How long before the file's mtime its last line may have been written (a busy server). */
export const ZONE_CHECK_BEFORE_MS = 120_000;

/** How long after the mtime it may seem written (timestamps rounded, coarse mtimes). */
export const ZONE_CHECK_AFTER_MS = 2_000;

/** What the live file says: its last line's timestamp and when the file was last written. */
export interface ZoneEvidence {
  /** The last line's timestamp as written (without an offset of its own). */
  wall: WallTime;
  /** The file's modification time, epoch milliseconds. */
  mtimeMs: number;
}

/** The zones to weigh. */
export interface ZoneCandidates {
  /** `TimeLocation`. */
  configured: Zone;
  /** This machine's zone (`Local`), asked for only when the configured one does not fit. */
  machine: () => Zone;
}

/** A configured zone that does not fit the log, while this machine's zone does. */
export interface ZoneMismatch {
  /** The configured zone's UTC offset at the last line, seconds east. */
  configuredOffsetSeconds: number;
  /** The machine's zone's UTC offset there, seconds east. */
  fittingOffsetSeconds: number;
  /** The machine's zone, which fits. */
  fits: string;
}

/** Whether a line written at `instant` fits a file last written at `mtimeMs`. */
function fitsMtime(instant: number, mtimeMs: number): boolean {
  return instant >= mtimeMs - ZONE_CHECK_BEFORE_MS && instant <= mtimeMs + ZONE_CHECK_AFTER_MS;
}

function fitsZone(zone: Zone, evidence: ZoneEvidence): boolean {
  const instants = wallInstants(zone, evidence.wall);
  // A wall time in a DST gap has no instant of its own: the rule of wallToInstant decides.
  if (instants.length === 0) instants.push(wallToInstant(zone, evidence.wall));
  return instants.some((at) => fitsMtime(at, evidence.mtimeMs));
}

/**
 * Checks the configured zone against the live file: `undefined` when it fits,
 * or when the evidence says nothing (a timestamp with its own offset, an
 * mtime the machine's zone does not explain either: a file copied or touched,
 * a server whose process runs in another zone); else the mismatch.
 *
 * @example
 * ```ts
 * import { loadZone } from "./zone.ts";
 * // A server on UTC wrote "12:00:00"; the file was written at 12:00:01Z.
 * const wall = { year: 2026, month: 12, day: 1, hour: 12, minute: 0, second: 0, millisecond: 0 };
 * const mismatch = checkZone(
 *   { wall, mtimeMs: Date.UTC(2026, 11, 1, 12, 0, 1) },
 *   { configured: loadZone("Europe/Zurich"), machine: () => loadZone("UTC") },
 * );
 * mismatch?.fits; // "UTC"
 * ```
 */
export function checkZone(
  evidence: ZoneEvidence,
  zones: ZoneCandidates,
): ZoneMismatch | undefined {
  if (evidence.wall.offsetSeconds !== undefined) return undefined;
  if (fitsZone(zones.configured, evidence)) return undefined;
  const machine = zones.machine();
  // Only the machine's zone is weighed: a file copied or touched has an mtime that some
  // arbitrary offset explains, and `conntracker check` asks the server for its own zone.
  if (!fitsZone(machine, evidence)) return undefined;
  return {
    configuredOffsetSeconds: offsetAt(zones.configured, evidence.mtimeMs),
    fittingOffsetSeconds: offsetAt(machine, evidence.mtimeMs),
    fits: machine.name,
  };
}
