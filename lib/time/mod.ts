/**
 * Time: the first stage everything else leans on, pure functions only.
 *
 * - `layout.ts`: timestamp layouts (Go reference layouts and MariaDB
 *   `DATE_FORMAT` specifiers) compiled to tokens that parse and format wall
 *   times;
 * - `zone.ts`: IANA zones, wall time to instant (the DST rule), instant to text;
 * - `clock.ts`: the log clock, which reads one log's timestamps in order;
 * - `zone_check.ts`: whether a zone fits a file's last line and its mtime.
 *
 * @module
 */

export * from "./clock.ts";
export * from "./layout.ts";
export * from "./zone.ts";
export * from "./zone_check.ts";
