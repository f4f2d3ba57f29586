/**
 * `slog`-style logging: one `key=value` line per record on stderr.
 *
 * @module
 */

/** The log levels, least severe first. */
export const LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"] as const;

/** A log level name. */
export type Level = typeof LEVELS[number];

/**
 * The level `steps` less verbose than `level` (negative: more verbose), kept
 * within DEBUG and ERROR: `-q` and `-v` over `LogLevel`.
 *
 * @example
 * ```ts
 * shiftLevel("ERROR", -2); // "INFO"
 * shiftLevel("INFO", 5); // "ERROR"
 * ```
 */
export function shiftLevel(level: Level, steps: number): Level {
  const i = LEVELS.indexOf(level) + steps;
  return LEVELS[Math.max(0, Math.min(LEVELS.length - 1, i))];
}

/** Values a log record can carry. */
export type Attrs = Record<string, string | number | boolean | bigint | undefined>;

/** Writes log records at or above a level. */
export interface Logger {
  /** The lowest level written. */
  level: Level;
  /** Writes a record at `level` when it is at or above the logger's level. */
  log(level: Level, msg: string, attrs?: Attrs): void;
}

/**
 * Formats one value the way Go's `slog.TextHandler` does: bare when it has no
 * space, quote, `=` or control character, else double-quoted with escapes.
 *
 * @example
 * ```ts
 * formatValue("a b"); // '"a b"'
 * formatValue(3); // "3"
 * ```
 */
export function formatValue(value: string | number | boolean | bigint): string {
  const text = String(value);
  // deno-lint-ignore no-control-regex
  if (text !== "" && !/[\s"=\\\x00-\x1f\x7f]/.test(text)) return text;
  return JSON.stringify(text);
}

/**
 * Formats a record as `time=… level=… msg=… key=value …`.
 *
 * @example
 * ```ts
 * formatRecord(new Date(0), "INFO", "run done", { files: 2 });
 * // 'time=1970-01-01T00:00:00.000Z level=INFO msg="run done" files=2'
 * ```
 */
export function formatRecord(time: Date, level: Level, msg: string, attrs: Attrs = {}): string {
  const parts = [`time=${time.toISOString()}`, `level=${level}`, `msg=${formatValue(msg)}`];
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined) parts.push(`${key}=${formatValue(value)}`);
  }
  return parts.join(" ");
}

/**
 * Creates a logger writing to `write` (stderr by default).
 *
 * @example
 * ```ts
 * const log = createLogger("WARN");
 * log.log("INFO", "not written");
 * log.log("ERROR", "written", { file: "/var/lib/mysql/server_audit.log" });
 * ```
 */
export function createLogger(
  level: Level,
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  return {
    level,
    log(at, msg, attrs) {
      if (LEVELS.indexOf(at) >= LEVELS.indexOf(this.level)) {
        write(formatRecord(new Date(), at, msg, attrs));
      }
    },
  };
}
