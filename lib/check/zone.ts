/**
 * The server's time zone against `TimeLocation`. The plugin writes the wall
 * time of the server process's system zone (`@@system_time_zone`), whatever
 * `@@time_zone` says; its UTC offset now is asked from the server itself.
 *
 * @module
 */

import { offsetAt, type Zone } from "../time/zone.ts";
import { type Finding, finding } from "./finding.ts";

function formatOffset(seconds: number): string {
  const sign = seconds < 0 ? "-" : "+";
  const abs = Math.abs(seconds);
  const hh = String(Math.floor(abs / 3600)).padStart(2, "0");
  const mm = String(Math.floor(abs % 3600 / 60)).padStart(2, "0");
  return `UTC${sign}${hh}:${mm}`;
}

/** What {@link zoneFindings} compares. */
export interface ZoneInput {
  variables: Map<string, string>;
  timeLocation: Zone;
  /** The instant the server's offset was asked at. */
  nowMs: number;
}

/**
 * The findings about the zone.
 *
 * @example
 * ```ts
 * import { loadZone } from "../time/zone.ts";
 * const variables = new Map([["system_time_zone", "CET"], ["time_zone", "SYSTEM"],
 *   ["system_offset_seconds", "3600"]]);
 * zoneFindings({ variables, timeLocation: loadZone("Europe/Zurich"), nowMs: Date.UTC(2026, 0, 1) });
 * ```
 */
export function zoneFindings(input: ZoneInput): Finding[] {
  const { variables, timeLocation, nowMs } = input;
  const system = variables.get("system_time_zone") ?? "?";
  const session = variables.get("time_zone") ?? "SYSTEM";
  const serverOffset = Number(variables.get("system_offset_seconds"));
  if (!Number.isFinite(serverOffset)) return [];
  const ours = offsetAt(timeLocation, nowMs);
  const note = session.toUpperCase() === "SYSTEM"
    ? ""
    : ` (@@time_zone = ${session} applies to SQL sessions only; the audit log uses the system zone)`;
  if (Math.abs(ours - serverOffset) >= 60) {
    const hours = (ours - serverOffset) / 3600;
    return [
      finding(
        "zone",
        "error",
        `The server writes its audit timestamps in ${system} (${formatOffset(serverOffset)} ` +
          `now), but TimeLocation = ${timeLocation.name} is ${formatOffset(ours)}: every login ` +
          `would be stored ${Math.abs(hours)} h ${hours > 0 ? "early" : "late"}${note}`,
        "set TimeLocation to the server's zone (timedatectl show -p Timezone, or the TZ of " +
          "mariadb.service)",
      ),
    ];
  }
  const january = offsetAt(timeLocation, Date.UTC(new Date(nowMs).getUTCFullYear(), 0, 15));
  const july = offsetAt(timeLocation, Date.UTC(new Date(nowMs).getUTCFullYear(), 6, 15));
  if (/^(UTC|GMT|Etc\/UTC|Z)$/i.test(system) && (january !== 0 || july !== 0)) {
    return [
      finding(
        "zone",
        "warn",
        `The server's system zone is ${system}, while TimeLocation = ${timeLocation.name} ` +
          "agrees now but not all year",
        "set TimeLocation = UTC",
      ),
    ];
  }
  return [
    finding(
      "zone",
      "ok",
      `The server writes ${system} (${formatOffset(serverOffset)} now), as TimeLocation = ` +
        `${timeLocation.name}${note}`,
    ),
  ];
}
