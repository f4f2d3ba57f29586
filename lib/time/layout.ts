/**
 * Timestamp layouts: Go reference layouts (`20060102 15:04:05`, as the old
 * tool's ini file holds them) and MariaDB `DATE_FORMAT` specifiers (the value of
 * `server_audit_timestamp_format`, e.g. `%Y%m%d %H:%i:%s`), compiled into one
 * token list that parses and formats wall-clock times.
 *
 * @module
 */

/** A wall-clock reading, with the UTC offset when the text carried one. */
export interface WallTime {
  year: number;
  /** 1 to 12. */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
  /** Seconds east of UTC, when the text carried an offset. */
  offsetSeconds?: number;
}

type Pad = "0" | " " | "";

/** One element of a layout: a literal or a field. */
export type Token =
  | { kind: "literal"; text: string }
  | { kind: "year"; digits: 2 | 4 }
  | { kind: "month"; pad: Pad }
  | { kind: "monthName"; long: boolean }
  | { kind: "day"; pad: Pad }
  | { kind: "yearDay" }
  | { kind: "weekday"; long: boolean }
  | { kind: "hour"; pad: Pad; twelve: boolean }
  | { kind: "minute"; pad: Pad }
  | { kind: "second"; pad: Pad }
  | { kind: "ampm"; upper: boolean }
  | { kind: "fraction"; sep: string; digits: number; trim: boolean }
  | { kind: "offset"; z: boolean; colon: boolean; seconds: boolean; hoursOnly: boolean };

/** A compiled layout. */
export interface Layout {
  /** The layout as configured. */
  source: string;
  /** Whether timestamps in this layout carry their own UTC offset. */
  hasOffset: boolean;
  tokens: Token[];
}

/** A layout that cannot be used. */
export class LayoutError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "LayoutError";
  }
}

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** Go layout elements, longest first where one is a prefix of another. */
const GO_ELEMENTS: [string, Token][] = [
  ["January", { kind: "monthName", long: true }],
  ["Jan", { kind: "monthName", long: false }],
  ["Monday", { kind: "weekday", long: true }],
  ["Mon", { kind: "weekday", long: false }],
  ["2006", { kind: "year", digits: 4 }],
  ["002", { kind: "yearDay" }],
  ["01", { kind: "month", pad: "0" }],
  ["02", { kind: "day", pad: "0" }],
  ["03", { kind: "hour", pad: "0", twelve: true }],
  ["04", { kind: "minute", pad: "0" }],
  ["05", { kind: "second", pad: "0" }],
  ["06", { kind: "year", digits: 2 }],
  ["15", { kind: "hour", pad: "0", twelve: false }],
  ["__2", { kind: "yearDay" }],
  ["_2", { kind: "day", pad: " " }],
  ["1", { kind: "month", pad: "" }],
  ["2", { kind: "day", pad: "" }],
  ["3", { kind: "hour", pad: "", twelve: true }],
  ["4", { kind: "minute", pad: "" }],
  ["5", { kind: "second", pad: "" }],
  ["PM", { kind: "ampm", upper: true }],
  ["pm", { kind: "ampm", upper: false }],
  ["-07:00:00", { kind: "offset", z: false, colon: true, seconds: true, hoursOnly: false }],
  ["-070000", { kind: "offset", z: false, colon: false, seconds: true, hoursOnly: false }],
  ["-07:00", { kind: "offset", z: false, colon: true, seconds: false, hoursOnly: false }],
  ["-0700", { kind: "offset", z: false, colon: false, seconds: false, hoursOnly: false }],
  ["-07", { kind: "offset", z: false, colon: false, seconds: false, hoursOnly: true }],
  ["Z07:00:00", { kind: "offset", z: true, colon: true, seconds: true, hoursOnly: false }],
  ["Z070000", { kind: "offset", z: true, colon: false, seconds: true, hoursOnly: false }],
  ["Z07:00", { kind: "offset", z: true, colon: true, seconds: false, hoursOnly: false }],
  ["Z0700", { kind: "offset", z: true, colon: false, seconds: false, hoursOnly: false }],
  ["Z07", { kind: "offset", z: true, colon: false, seconds: false, hoursOnly: true }],
];

/** MariaDB `DATE_FORMAT` specifiers that a timestamp can use. */
const MARIADB_SPECIFIERS: Record<string, Token[]> = {
  Y: [{ kind: "year", digits: 4 }],
  y: [{ kind: "year", digits: 2 }],
  m: [{ kind: "month", pad: "0" }],
  c: [{ kind: "month", pad: "" }],
  M: [{ kind: "monthName", long: true }],
  b: [{ kind: "monthName", long: false }],
  d: [{ kind: "day", pad: "0" }],
  e: [{ kind: "day", pad: "" }],
  j: [{ kind: "yearDay" }],
  W: [{ kind: "weekday", long: true }],
  a: [{ kind: "weekday", long: false }],
  H: [{ kind: "hour", pad: "0", twelve: false }],
  k: [{ kind: "hour", pad: "", twelve: false }],
  h: [{ kind: "hour", pad: "0", twelve: true }],
  I: [{ kind: "hour", pad: "0", twelve: true }],
  l: [{ kind: "hour", pad: "", twelve: true }],
  i: [{ kind: "minute", pad: "0" }],
  s: [{ kind: "second", pad: "0" }],
  S: [{ kind: "second", pad: "0" }],
  f: [{ kind: "fraction", sep: "", digits: 6, trim: false }],
  p: [{ kind: "ampm", upper: true }],
  T: [
    { kind: "hour", pad: "0", twelve: false },
    { kind: "literal", text: ":" },
    { kind: "minute", pad: "0" },
    { kind: "literal", text: ":" },
    { kind: "second", pad: "0" },
  ],
  z: [{ kind: "offset", z: false, colon: false, seconds: false, hoursOnly: false }],
};

function tokenizeGo(layout: string): Token[] {
  const tokens: Token[] = [];
  let literal = "";
  let i = 0;
  outer: while (i < layout.length) {
    const ch = layout[i];
    if ((ch === "." || ch === ",") && (layout[i + 1] === "0" || layout[i + 1] === "9")) {
      const digit = layout[i + 1];
      let j = i + 1;
      while (layout[j] === digit) j++;
      if (!/[0-9]/.test(layout[j] ?? "")) {
        if (literal) tokens.push({ kind: "literal", text: literal }), literal = "";
        tokens.push({ kind: "fraction", sep: ch, digits: j - i - 1, trim: digit === "9" });
        i = j;
        continue;
      }
    }
    for (const [element, token] of GO_ELEMENTS) {
      if (layout.startsWith(element, i)) {
        if (literal) tokens.push({ kind: "literal", text: literal }), literal = "";
        tokens.push(token);
        i += element.length;
        continue outer;
      }
    }
    if (/[0-9]/.test(ch)) {
      const digits = /^[0-9]+/.exec(layout.slice(i))![0];
      throw new LayoutError(
        `Unknown element "${digits}" at position ${i + 1} in time layout "${layout}"`,
      );
    }
    literal += ch;
    i++;
  }
  if (literal) tokens.push({ kind: "literal", text: literal });
  const mistake = tokens.find((t) =>
    t.kind === "literal" && /YY|yy|DD|dd|HH|hh|mm|ss/.test(t.text)
  );
  if (mistake) {
    throw new LayoutError(
      `Unknown element "${(mistake as { text: string }).text}" in time layout "${layout}"` +
        ` (Go layouts use the reference time, e.g. "20060102 15:04:05")`,
    );
  }
  if (layout.includes("MST")) {
    throw new LayoutError(
      `Zone abbreviations ("MST") are not supported in time layout "${layout}"; use "-07:00"`,
    );
  }
  return tokens;
}

function tokenizeMariaDb(format: string): Token[] {
  const tokens: Token[] = [];
  let literal = "";
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== "%") {
      literal += format[i];
      continue;
    }
    const spec = format[++i];
    if (spec === "%") {
      literal += "%";
      continue;
    }
    const mapped = spec === undefined ? undefined : MARIADB_SPECIFIERS[spec];
    if (!mapped) {
      throw new LayoutError(`Unknown specifier "%${spec ?? ""}" in time format "${format}"`);
    }
    if (literal) tokens.push({ kind: "literal", text: literal }), literal = "";
    tokens.push(...mapped);
  }
  if (literal) tokens.push({ kind: "literal", text: literal });
  return tokens;
}

/**
 * Compiles a Go reference layout, or a MariaDB `DATE_FORMAT` string when it
 * contains `%`. It must name at least year, month, day, hour and minute.
 *
 * @example
 * ```ts
 * const go = compileLayout("20060102 15:04:05");
 * const maria = compileLayout("%Y%m%d %H:%i:%s");
 * parseWall(go, "20261124 23:52:28")?.wall.hour; // 23
 * parseWall(maria, "20261124 23:52:28")?.wall.hour; // 23
 * ```
 * @throws {LayoutError} on an unknown element or a layout lacking a date or time.
 */
export function compileLayout(source: string): Layout {
  const tokens = source.includes("%") ? tokenizeMariaDb(source) : tokenizeGo(source);
  const kinds = new Set(tokens.map((t) => t.kind));
  const hasDate = kinds.has("year") && (kinds.has("yearDay") ||
    ((kinds.has("month") || kinds.has("monthName")) && kinds.has("day")));
  if (!hasDate || !kinds.has("hour") || !kinds.has("minute")) {
    throw new LayoutError(
      `Time layout "${source}" must contain a year, month, day, hour and minute`,
    );
  }
  return { source, hasOffset: kinds.has("offset"), tokens };
}

function readDigits(text: string, pos: number, min: number, max: number): [number, number] {
  let end = pos;
  while (end < text.length && end - pos < max) {
    const c = text.charCodeAt(end);
    if (c < 48 || c > 57) break;
    end++;
  }
  if (end - pos < min) return [-1, pos];
  return [Number(text.slice(pos, end)), end];
}

function readName(text: string, pos: number, names: string[], long: boolean): [number, number] {
  for (let i = 0; i < names.length; i++) {
    const name = long ? names[i] : names[i].slice(0, 3);
    if (text.startsWith(name, pos)) return [i, pos + name.length];
  }
  return [-1, pos];
}

function readFraction(text: string, pos: number): [number, number] {
  let end = pos;
  while (end < text.length && text.charCodeAt(end) >= 48 && text.charCodeAt(end) <= 57) end++;
  if (end === pos) return [-1, pos];
  return [Math.floor(Number("0." + text.slice(pos, end)) * 1000), end];
}

type Step = [number, number];

function parseOffset(text: string, pos: number, t: Token & { kind: "offset" }): Step {
  // NaN, never a valid offset, says the text holds none here.
  if (t.z && text[pos] === "Z") return [0, pos + 1];
  const sign = text[pos] === "+" ? 1 : text[pos] === "-" ? -1 : 0;
  if (!sign) return [NaN, pos];
  let [hours, p] = readDigits(text, pos + 1, 2, 2);
  if (hours < 0) return [NaN, pos];
  let minutes = 0, seconds = 0;
  if (!t.hoursOnly) {
    if (t.colon) {
      if (text[p] !== ":") return [NaN, pos];
      p++;
    }
    [minutes, p] = readDigits(text, p, 2, 2);
    if (minutes < 0) return [NaN, pos];
    if (t.seconds) {
      if (t.colon) {
        if (text[p] !== ":") return [NaN, pos];
        p++;
      }
      [seconds, p] = readDigits(text, p, 2, 2);
      if (seconds < 0) return [NaN, pos];
    }
  }
  return [sign * (hours * 3600 + minutes * 60 + seconds), p];
}

/** Whether the layout itself spells out a fraction right after the seconds. */
function layoutHasFraction(next: Token | undefined): boolean {
  if (!next) return false;
  return next.kind === "fraction" || (next.kind === "literal" && /^[.,]/.test(next.text));
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Parses a timestamp at `start` of `text`. Returns the wall time and where the
 * timestamp ended, or `undefined` when the text does not match the layout.
 * As in Go, a fraction of a second right after the seconds is accepted even
 * when the layout has none.
 *
 * @example
 * ```ts
 * const layout = compileLayout("%Y%m%dT%H:%i:%s.%f%z");
 * const { wall } = parseWall(layout, "20231207T13:14:28.000000+0100")!;
 * wall.offsetSeconds; // 3600
 * ```
 */
export function parseWall(
  layout: Layout,
  text: string,
  start = 0,
): { wall: WallTime; end: number } | undefined {
  let year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0, ms = 0, yday = -1;
  let pm: boolean | undefined;
  let offsetSeconds: number | undefined;
  let pos = start;
  const tokens = layout.tokens;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    let v = 0;
    switch (t.kind) {
      case "literal":
        if (!text.startsWith(t.text, pos)) return undefined;
        pos += t.text.length;
        continue;
      case "year":
        [v, pos] = readDigits(text, pos, t.digits, t.digits);
        year = t.digits === 2 ? (v >= 69 ? 1900 + v : 2000 + v) : v;
        break;
      case "month":
        [v, pos] = readDigits(text, pos, t.pad === "0" ? 2 : 1, 2);
        month = v;
        break;
      case "monthName":
        [v, pos] = readName(text, pos, MONTHS, t.long);
        month = v + 1;
        break;
      case "day":
        if (t.pad === " " && text[pos] === " ") pos++;
        [v, pos] = readDigits(text, pos, t.pad === "0" ? 2 : 1, 2);
        day = v;
        break;
      case "yearDay":
        while (text[pos] === " ") pos++;
        [v, pos] = readDigits(text, pos, 1, 3);
        yday = v;
        break;
      case "weekday":
        [v, pos] = readName(text, pos, WEEKDAYS, t.long);
        break;
      case "hour":
        [v, pos] = readDigits(text, pos, t.pad === "0" ? 2 : 1, 2);
        hour = v;
        break;
      case "minute":
        [v, pos] = readDigits(text, pos, t.pad === "0" ? 2 : 1, 2);
        minute = v;
        break;
      case "second":
        [v, pos] = readDigits(text, pos, t.pad === "0" ? 2 : 1, 2);
        second = v;
        if (!layoutHasFraction(tokens[i + 1]) && (text[pos] === "." || text[pos] === ",")) {
          const [frac, end] = readFraction(text, pos + 1);
          if (frac >= 0) ms = frac, pos = end;
        }
        break;
      case "ampm": {
        const word = text.slice(pos, pos + 2).toUpperCase();
        if (word !== "AM" && word !== "PM") return undefined;
        pm = word === "PM";
        pos += 2;
        break;
      }
      case "fraction":
        if (t.sep) {
          if (text[pos] !== t.sep) {
            if (t.trim) continue;
            return undefined;
          }
          pos++;
        }
        [v, pos] = readFraction(text, pos);
        ms = v;
        break;
      case "offset":
        [v, pos] = parseOffset(text, pos, t);
        if (Number.isNaN(v)) return undefined;
        offsetSeconds = v;
        continue;
    }
    if (v < 0) return undefined;
  }
  if (pm !== undefined) {
    if (hour < 1 || hour > 12) return undefined;
    hour = (hour % 12) + (pm ? 12 : 0);
  }
  if (yday >= 0) {
    const date = new Date(Date.UTC(year, 0, yday));
    month = date.getUTCMonth() + 1;
    day = date.getUTCDate();
  }
  if (
    month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 ||
    minute > 59 || second > 60
  ) return undefined;
  const wall: WallTime = { year, month, day, hour, minute, second, millisecond: ms };
  if (offsetSeconds !== undefined) wall.offsetSeconds = offsetSeconds;
  return { wall, end: pos };
}

function pad(value: number, width: number, with_: Pad): string {
  return with_ === "" ? String(value) : String(value).padStart(width, with_);
}

function formatOffset(seconds: number, t: Token & { kind: "offset" }): string {
  if (t.z && seconds === 0) return "Z";
  const abs = Math.abs(seconds);
  const sep = t.colon ? ":" : "";
  let out = (seconds < 0 ? "-" : "+") + pad(Math.floor(abs / 3600), 2, "0");
  if (!t.hoursOnly) out += sep + pad(Math.floor(abs / 60) % 60, 2, "0");
  if (t.seconds) out += sep + pad(abs % 60, 2, "0");
  return out;
}

/**
 * Formats a wall time with the layout; `offsetSeconds` fills offset elements.
 *
 * @example
 * ```ts
 * const layout = compileLayout("2006-01-02 15:04:05-07:00");
 * const wall = { year: 2024, month: 10, day: 14, hour: 13, minute: 22, second: 57, millisecond: 0 };
 * formatWall(layout, { ...wall, offsetSeconds: 7200 }); // "2024-10-14 13:22:57+02:00"
 * ```
 */
export function formatWall(layout: Layout, wall: WallTime): string {
  let out = "";
  for (const t of layout.tokens) {
    switch (t.kind) {
      case "literal":
        out += t.text;
        break;
      case "year":
        out += t.digits === 2 ? pad(wall.year % 100, 2, "0") : pad(wall.year, 4, "0");
        break;
      case "month":
        out += pad(wall.month, 2, t.pad);
        break;
      case "monthName":
        out += t.long ? MONTHS[wall.month - 1] : MONTHS[wall.month - 1].slice(0, 3);
        break;
      case "day":
        out += pad(wall.day, 2, t.pad);
        break;
      case "yearDay": {
        const start = Date.UTC(wall.year, 0, 1);
        const yday = (Date.UTC(wall.year, wall.month - 1, wall.day) - start) / 86_400_000 + 1;
        out += pad(yday, 3, "0");
        break;
      }
      case "weekday": {
        const name = WEEKDAYS[new Date(Date.UTC(wall.year, wall.month - 1, wall.day)).getUTCDay()];
        out += t.long ? name : name.slice(0, 3);
        break;
      }
      case "hour":
        out += pad(t.twelve ? ((wall.hour + 11) % 12) + 1 : wall.hour, 2, t.pad);
        break;
      case "minute":
        out += pad(wall.minute, 2, t.pad);
        break;
      case "second":
        out += pad(wall.second, 2, t.pad);
        break;
      case "ampm":
        out += wall.hour < 12 ? (t.upper ? "AM" : "am") : (t.upper ? "PM" : "pm");
        break;
      case "fraction": {
        let digits = pad(wall.millisecond, 3, "0").padEnd(t.digits, "0").slice(0, t.digits);
        if (t.trim) digits = digits.replace(/0+$/, "");
        if (digits || !t.trim) out += t.sep + digits;
        break;
      }
      case "offset":
        out += formatOffset(wall.offsetSeconds ?? 0, t);
        break;
    }
  }
  return out;
}
