/**
 * How often conntracker runs: from its systemd timer, else its cron entry
 * (`/etc/cron.d/conntracker`, root's crontab), else `--interval`. The
 * interval is the longest gap between two runs over two days.
 *
 * @module
 */

import { CronExpressionParser } from "cron-parser";
import { join } from "node:path";
import { parseTimeSpan } from "./time_span.ts";

const CALENDAR_KEYWORDS: Record<string, string> = {
  minutely: "* * * * *",
  hourly: "0 * * * *",
  daily: "0 0 * * *",
  weekly: "0 0 * * 1",
};

/**
 * Turns the common systemd `OnCalendar=` forms (`*:0/5`, `*-*-* *:00/10:00`,
 * `hourly`, `*:15,45`) into a cron expression; `undefined` for others.
 *
 * @example
 * ```ts
 * calendarToCron("*:0/5"); // "0/5 * * * *"
 * ```
 */
export function calendarToCron(calendar: string): string | undefined {
  const text = calendar.trim().toLowerCase();
  if (text in CALENDAR_KEYWORDS) return CALENDAR_KEYWORDS[text];
  const tokens = text.split(/\s+/);
  if (tokens.length > 2 || (tokens.length === 2 && tokens[0] !== "*-*-*")) return undefined;
  const [hour, minute, second = "0"] = tokens.at(-1)!.split(":");
  if (minute === undefined || !/^0+$/.test(second)) return undefined;
  const field = (f: string) => /^[\d*/,.]+$/.test(f) ? f.replaceAll("..", "-") : undefined;
  const [h, m] = [field(hour), field(minute)];
  return h && m ? `${m} ${h} * * *` : undefined;
}

/**
 * The longest gap between two times of a cron expression over two days, in
 * milliseconds.
 *
 * @example
 * ```ts
 * cronInterval("*\/5 * * * *"); // 300000
 * ```
 */
export function cronInterval(expression: string): number {
  const start = new Date("2026-01-05T00:00:00Z");
  const times = CronExpressionParser.parse(expression, { currentDate: start, tz: "UTC" });
  let previous = times.next().getTime();
  let longest = 0;
  const end = start.getTime() + 2 * 86_400_000;
  while (previous < end) {
    const next = times.next().getTime();
    longest = Math.max(longest, next - previous);
    previous = next;
  }
  return longest;
}

/** Where the interval came from. */
export interface Interval {
  ms: number;
  source: string;
}

/** Where to look; tests point `root` at a temp dir. */
export interface IntervalOptions {
  /** Prefixed to every system path (default `/`). */
  root?: string;
  /** `--interval`, when given (milliseconds). */
  fallbackMs?: number;
}

async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/** The interval of a timer unit's text: `OnUnitActiveSec=`, else `OnCalendar=`. */
function timerInterval(text: string): number | undefined {
  const value = (key: string) =>
    text.split("\n").map((l) => l.trim()).find((l) => l.startsWith(`${key}=`))
      ?.slice(key.length + 1);
  const active = value("OnUnitActiveSec") ?? value("OnUnitInactiveSec");
  if (active) return parseTimeSpan(active);
  const calendar = value("OnCalendar");
  const cron = calendar && calendarToCron(calendar);
  return cron ? cronInterval(cron) : undefined;
}

/**
 * The interval of the first cron line that runs conntracker; `userField`: the
 * lines name a user before the command (`/etc/crontab`, `/etc/cron.d/`).
 */
function crontabInterval(text: string, options: { userField: boolean }): number | undefined {
  for (const line of text.split("\n")) {
    const l = line.trim();
    if (l === "" || l.startsWith("#") || /^\w+=/.test(l) || !/conntracker/.test(l)) continue;
    const fields = l.split(/\s+/);
    if (fields[0].startsWith("@")) {
      const cron = CALENDAR_KEYWORDS[fields[0].slice(1)];
      if (cron) return cronInterval(cron);
      continue;
    }
    if (fields.length < (options.userField ? 7 : 6)) continue;
    return cronInterval(fields.slice(0, 5).join(" "));
  }
  return undefined;
}

/** An interval, or `undefined` when the unit or crontab holds a value not understood. */
function unlessInvalid(fn: () => number | undefined): number | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/**
 * Finds how often conntracker runs: its systemd timer, then its cron file,
 * then root's crontab, then `fallbackMs`.
 *
 * @example
 * ```ts
 * const interval = await findInterval({ root: "/" });
 * interval?.ms; // 300000 with contrib's timer
 * ```
 */
export async function findInterval(options: IntervalOptions = {}): Promise<Interval | undefined> {
  const root = options.root ?? "/";
  for (const dir of ["/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"]) {
    const path = join(dir, "conntracker.timer");
    const text = await readIfThere(join(root, path));
    const ms = text && unlessInvalid(() => timerInterval(text));
    if (ms) return { ms, source: path };
  }
  for (
    const [path, userField] of [
      ["/etc/cron.d/conntracker", true],
      ["/etc/crontab", true],
      ["/var/spool/cron/crontabs/root", false],
    ] as const
  ) {
    const text = await readIfThere(join(root, path));
    const ms = text && unlessInvalid(() => crontabInterval(text, { userField }));
    if (ms) return { ms, source: path };
  }
  return options.fallbackMs ? { ms: options.fallbackMs, source: "--interval" } : undefined;
}
