/**
 * The time-zone check: whether `TimeLocation` fits a log, told by its live
 * file. The server writes a line and the file's modification time is set by
 * that same write, so the last line's wall time, read in the server's zone,
 * falls at most seconds before the file's mtime. When the configured zone puts
 * it a whole zone offset away instead, and another offset fits, the zone is
 * wrong.
 *
 * @module
 */

import type { WallTime } from "./layout.ts";
import { offsetAt, wallInstants, wallToInstant, type Zone } from "./zone.ts";

/** How long before the file's mtime its last line may have been written (a busy server). */
export const ZONE_CHECK_BEFORE_MS = 120_000;

/** How long after the mtime it may seem written (timestamps rounded, coarse mtimes). */
export const ZONE_CHECK_AFTER_MS = 2_000;

/** Real zones' offsets are whole quarter hours, from -12:00 to +14:00. */
const QUARTER_HOUR_S = 900;
const MIN_OFFSET_S = -12 * 3600;
const MAX_OFFSET_S = 14 * 3600;

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

/** A configured zone that does not fit the log, and what does. */
export interface ZoneMismatch {
  /** The configured zone's UTC offset at the last line, seconds east. */
  configuredOffsetSeconds: number;
  /** The UTC offset that fits, seconds east. */
  fittingOffsetSeconds: number;
  /** A zone that fits: the machine's zone by name when it fits, else `UTC` or `UTC+05:30`. */
  fits: string;
  /** Whether `fits` is the machine's zone. */
  machineFits: boolean;
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
 * A UTC offset as `UTC`, `UTC+02:00`, `UTC-03:30`.
 *
 * @example
 * ```ts
 * formatUtcOffset(19800); // "UTC+05:30"
 * ```
 */
export function formatUtcOffset(seconds: number): string {
  if (seconds === 0) return "UTC";
  const abs = Math.abs(seconds);
  const hh = String(Math.floor(abs / 3600)).padStart(2, "0");
  const mm = String(Math.floor(abs / 60) % 60).padStart(2, "0");
  return `UTC${seconds < 0 ? "-" : "+"}${hh}:${mm}`;
}

/**
 * Checks the configured zone against the live file: `undefined` when it fits,
 * or when the evidence says nothing (a timestamp with its own offset, an
 * mtime no real zone explains: a file copied or touched); else the mismatch,
 * naming the machine's zone when that one fits.
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
  const { wall, mtimeMs } = evidence;
  if (wall.offsetSeconds !== undefined) return undefined;
  if (fitsZone(zones.configured, evidence)) return undefined;
  const asUtc = Date.UTC(
    wall.year,
    wall.month - 1,
    wall.day,
    wall.hour,
    wall.minute,
    wall.second,
    wall.millisecond,
  );
  const fitting = Math.round((asUtc - mtimeMs) / 1000 / QUARTER_HOUR_S) * QUARTER_HOUR_S;
  if (fitting < MIN_OFFSET_S || fitting > MAX_OFFSET_S) return undefined;
  if (!fitsMtime(asUtc - fitting * 1000, mtimeMs)) return undefined;
  const configuredOffsetSeconds = offsetAt(zones.configured, mtimeMs);
  const machine = zones.machine();
  const machineFits = fitsZone(machine, evidence);
  return {
    configuredOffsetSeconds,
    fittingOffsetSeconds: machineFits ? offsetAt(machine, mtimeMs) : fitting,
    fits: machineFits ? machine.name : formatUtcOffset(fitting),
    machineFits,
  };
}
