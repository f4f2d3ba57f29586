import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert";
import {
  compileLayout,
  formatWall,
  LayoutError,
  parseWall,
  type WallTime,
} from "../lib/time/layout.ts";
import { clockInstant, createLogClock } from "../lib/time/clock.ts";
import { formatInstant, loadZone, offsetAt, wallToInstant, ZoneError } from "../lib/time/zone.ts";
import { checkZone } from "../lib/time/zone_check.ts";
import { prng } from "./helpers.ts";

const wall = (y: number, mo: number, d: number, h: number, mi: number, s = 0) => ({
  year: y,
  month: mo,
  day: d,
  hour: h,
  minute: mi,
  second: s,
  millisecond: 0,
});

Deno.test("parseWall() reads the old tool's Go layout and MariaDB's default format alike", () => {
  for (const layout of ["20060102 15:04:05", "%Y%m%d %H:%i:%s"]) {
    const parsed = parseWall(compileLayout(layout), "20261124 23:52:28");
    assertEquals(parsed?.wall, wall(2026, 11, 24, 23, 52, 28));
    assertEquals(parsed?.end, 17);
  }
});

Deno.test("parseWall() reads microseconds and the line's own offset (%f%z and Go's .000000-0700)", () => {
  const text = "20231207T13:14:28.123456+0100";
  for (const layout of ["%Y%m%dT%H:%i:%s.%f%z", "20060102T15:04:05.000000-0700"]) {
    const parsed = parseWall(compileLayout(layout), text);
    assertEquals(parsed?.wall, {
      ...wall(2023, 12, 7, 13, 14, 28),
      millisecond: 123,
      offsetSeconds: 3600,
    });
  }
  // The offset wins over TimeLocation.
  const clock = createLogClock(compileLayout("%Y%m%dT%H:%i:%s.%f%z"), loadZone("America/New_York"));
  assertEquals(clockInstant(clock, text), Date.parse("2023-12-07T13:14:28.123+01:00"));
});

Deno.test("parseWall() accepts a fraction after the seconds even when the layout has none (as Go)", () => {
  assertEquals(
    parseWall(compileLayout("2006-01-02 15:04:05"), "2024-01-02 03:04:05.25")?.wall.millisecond,
    250,
  );
});

Deno.test("parseWall() rejects text that does not match", () => {
  const layout = compileLayout("20060102 15:04:05");
  for (const text of ["2026-11-24 23:52:28", "20261324 23:52:28", "20260230 10:00:00", "x"]) {
    assertEquals(parseWall(layout, text), undefined, text);
  }
});

Deno.test("compileLayout() rejects unknown elements and layouts without a date and time", () => {
  assertThrows(() => compileLayout("YYYY-MM-DD HH:mm:ss"), LayoutError);
  assertThrows(() => compileLayout("2006-01-02 15:04:07"), /Unknown element "07"/);
  assertThrows(() => compileLayout("%Y%m%d %H:%i:%q"), /Unknown specifier "%q"/);
  assertThrows(() => compileLayout("15:04:05"), /must contain a year/);
  assertThrows(() => compileLayout("2006-01-02 15:04:05 MST"), /Zone abbreviations/);
});

Deno.test("formatWall() writes Go layouts: offsets, Z, twelve-hour clock, names, fractions", () => {
  const w = { ...wall(2024, 10, 14, 13, 22, 57), millisecond: 120, offsetSeconds: 7200 };
  assertEquals(
    formatWall(compileLayout("2006-01-02 15:04:05-07:00"), w),
    "2024-10-14 13:22:57+02:00",
  );
  assertEquals(
    formatWall(compileLayout("2006-01-02T15:04:05.000Z07:00"), { ...w, offsetSeconds: 0 }),
    "2024-10-14T13:22:57.120Z",
  );
  assertEquals(
    formatWall(compileLayout("Mon Jan _2 3:04:05.999 PM 2006 -0700"), {
      ...w,
      day: 4,
      offsetSeconds: -16200,
    }),
    "Fri Oct  4 1:22:57.12 PM 2024 -0430",
  );
});

Deno.test("loadZone() rejects an unknown zone", () => {
  assertThrows(() => loadZone("Mars/Olympus"), ZoneError);
  assertEquals(loadZone("UTC").name, "UTC");
});

/** The offset in seconds at a whole-second instant, by Intl's wall clock: the oracle. */
function intlOffset(format: Intl.DateTimeFormat, at: number): number {
  const parts: Record<string, string> = {};
  for (const p of format.formatToParts(at)) parts[p.type] = p.value;
  const year = parts.era === "BC" || parts.era === "B"
    ? 1 - Number(parts.year)
    : Number(parts.year);
  const month = Number(parts.month) - 1;
  const wall = Date.UTC(year, month, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return (wall - at) / 1000;
}

Deno.test("offsetAt() gives Intl's offsets: DST both ways, half hours, LMT, a skipped day", () => {
  // Zurich (local mean times before 1894), New York, Lord Howe (30-minute DST), Kathmandu
  // (+5:45), Dublin (negative DST in the data), Apia (skipped 2011-12-30), Casablanca
  // (DST paused in Ramadan), Sao Paulo (southern DST, ended 2019), Santiago.
  const zones = [
    "Europe/Zurich",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Europe/Dublin",
    "Pacific/Apia",
    "Africa/Casablanca",
    "America/Sao_Paulo",
    "America/Santiago",
  ];
  const random = prng(15);
  const minute = 60_000;
  const instants: number[] = [];
  // Whole minutes from 1850 to 2100, and every half hour of 2011 and 2024.
  for (let i = 0; i < 2000; i++) {
    instants.push(Date.UTC(1850, 0, 1) + Math.floor(random() * 250 * 525_960) * minute);
  }
  for (const year of [2011, 2024]) {
    for (let at = Date.UTC(year, 0, 1); at < Date.UTC(year + 1, 0, 1); at += 30 * minute) {
      instants.push(at);
    }
  }
  for (const name of zones) {
    const zone = loadZone(name);
    const format = new Intl.DateTimeFormat("en-US", {
      timeZone: name,
      hourCycle: "h23",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    const wrong = instants.filter((at) => offsetAt(zone, at) !== intlOffset(format, at))
      .map((at) => `${new Date(at).toISOString()}: ${offsetAt(zone, at)}`);
    assertEquals([name, wrong.slice(0, 5)], [name, []]);
  }
  // tzdata: Zurich kept its local mean time (+0:34:08) until 1853, then Bern's (+0:29:46).
  assertEquals(offsetAt(loadZone("Europe/Zurich"), Date.UTC(1850, 0, 1)), 34 * 60 + 8);
  assertEquals(offsetAt(loadZone("Europe/Zurich"), Date.UTC(1890, 0, 1)), 29 * 60 + 46);
});

Deno.test("loadZone() Local is the zone Intl takes for this system", () => {
  assertEquals(loadZone("Local").name, new Intl.DateTimeFormat().resolvedOptions().timeZone);
});

Deno.test("wallToInstant() resolves an autumn overlap by log order: the second pass after the clock steps back", () => {
  // Europe/Zurich, 2024-10-27: 03:00 CEST became 02:00 CET, so 02:00-02:59 happened twice.
  const zurich = loadZone("Europe/Zurich");
  const clock = createLogClock(compileLayout("20060102 15:04:05"), zurich);
  const lines = [
    "20241027 01:59:00",
    "20241027 02:30:00",
    "20241027 02:59:59",
    "20241027 02:00:01",
    "20241027 02:30:00",
    "20241027 03:00:00",
  ];
  assertEquals(lines.map((l) => clockInstant(clock, l)), [
    Date.parse("2024-10-27T01:59:00+02:00"),
    Date.parse("2024-10-27T02:30:00+02:00"),
    Date.parse("2024-10-27T02:59:59+02:00"),
    Date.parse("2024-10-27T02:00:01+01:00"),
    Date.parse("2024-10-27T02:30:00+01:00"),
    Date.parse("2024-10-27T03:00:00+01:00"),
  ]);
  // Without a line before it, the earlier instant; a second of jitter back stays on the first pass.
  assertEquals(
    wallToInstant(zurich, wall(2024, 10, 27, 2, 30)),
    Date.parse("2024-10-27T02:30:00+02:00"),
  );
  assertEquals(
    wallToInstant(zurich, wall(2024, 10, 27, 2, 30), Date.parse("2024-10-27T02:30:01+02:00")),
    Date.parse("2024-10-27T02:30:00+02:00"),
  );
});

Deno.test("wallToInstant() maps a spring-gap time with the offset before the gap", () => {
  // 2024-03-31 02:30 never happened in Zurich: it is read as 02:30+01:00 = 03:30 CEST.
  assertEquals(
    wallToInstant(loadZone("Europe/Zurich"), wall(2024, 3, 31, 2, 30)),
    Date.parse("2024-03-31T02:30:00+01:00"),
  );
});

Deno.test("formatInstant() around DST: the later wall text can be the earlier instant", () => {
  const layout = compileLayout("2006-01-02 15:04:05-07:00");
  const zurich = loadZone("Europe/Zurich");
  const first = formatInstant(layout, zurich, Date.parse("2024-10-27T02:50:00+02:00"));
  const second = formatInstant(layout, zurich, Date.parse("2024-10-27T02:10:00+01:00"));
  assertEquals([first, second], ["2024-10-27 02:50:00+02:00", "2024-10-27 02:10:00+01:00"]);
  assertEquals(first > second, true); // as text; yet `second` is 20 minutes later.
});

/** A wall time as a server in `offset` (`+05:30`) wrote it at `iso`: the test's own arithmetic. */
function writtenIn(iso: string, offset: string) {
  const sign = offset[0] === "-" ? -1 : 1;
  const [h, m] = offset.slice(1).split(":").map(Number);
  const d = new Date(Date.parse(iso) + sign * (h * 60 + m) * 60_000);
  return wall(
    d.getUTCFullYear(),
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
  );
}

Deno.test("checkZone() names the machine's zone when it fits and the configured one is a zone off", () => {
  const zurich = loadZone("Europe/Zurich");
  // A server on UTC wrote its last line at 10:00:00Z; the write set the mtime a second later.
  const evidence = {
    wall: writtenIn("2026-11-25T10:00:00Z", "+00:00"),
    mtimeMs: Date.parse("2026-11-25T10:00:01Z"),
  };
  assertEquals(checkZone(evidence, { configured: zurich, machine: () => loadZone("UTC") }), {
    configuredOffsetSeconds: 3600,
    fittingOffsetSeconds: 0,
    fits: "UTC",
  });
  // A machine whose zone does not fit either says nothing: an mtime is weak evidence.
  assertEquals(
    checkZone(evidence, { configured: zurich, machine: () => loadZone("Asia/Tokyo") }),
    undefined,
  );
  let asked = false;
  const machine = () => (asked = true, loadZone("UTC"));
  assertEquals(checkZone(evidence, { configured: loadZone("UTC"), machine }), undefined);
  assertEquals(asked, false);
});

Deno.test("checkZone() says nothing when the zone fits within the tolerance, or nothing explains the mtime", () => {
  const zurich = loadZone("Europe/Zurich");
  const zones = { configured: zurich, machine: () => loadZone("UTC") };
  const at = "2026-11-25T09:00:00Z";
  const line = writtenIn(at, "+01:00");
  const check = (mtimeIso: string, w: WallTime = line) =>
    checkZone({ wall: w, mtimeMs: Date.parse(mtimeIso) }, zones);
  assertEquals(check("2026-11-25T09:00:00Z"), undefined);
  assertEquals(check("2026-11-25T09:01:59Z"), undefined); // a busy server: written 119 s before
  // 125 s before, or 3 s after the write: no zone puts the line at the mtime, so no verdict.
  assertEquals(check("2026-11-25T09:02:05Z"), undefined);
  assertEquals(check("2026-11-25T08:59:57Z"), undefined);
  // A file copied three days later (no cp -p): its mtime says nothing.
  assertEquals(check("2026-11-28T13:07:41Z"), undefined);
  // The line carries its own offset: TimeLocation is not used for it.
  assertEquals(check("2026-11-25T10:00:00Z", { ...line, offsetSeconds: 3600 }), undefined);
  // The autumn overlap: 02:30 happens twice in Zurich; the second pass (CET) fits.
  assertEquals(check("2026-10-25T01:30:01Z", wall(2026, 10, 25, 2, 30)), undefined);
  // The machine's zone (UTC) is an hour off Zurich: "10:00" written at 10:00:01Z is found;
  // written at 08:00:01Z, only an offset no zone here has (+02:00) fits, so nothing is said.
  assertEquals(check("2026-11-25T10:00:01Z")?.fits, "UTC");
  assertEquals(check("2026-11-25T08:00:01Z"), undefined);
});
