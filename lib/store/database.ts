/**
 * The SQLite database (`node:sqlite`) as a handle: opening it for a run or for
 * a report, and turning SQLite's errors into {@link StoreError}s that name the
 * file. `node:sqlite` gives no error codes in Deno, so SQLite's messages are
 * read here, once, and nowhere else.
 *
 * @module
 */

import { statfsSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { StoredTimes } from "./stored_time.ts";

/** The database cannot be opened, read or written. */
export class StoreError extends Error {
  /** The database file. */
  path: string;
  /** Creates the error. */
  constructor(path: string, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "StoreError";
    this.path = path;
  }
}

/** Another run holds the database longer than the lock timeout. */
export class LockedError extends StoreError {
  /** Creates the error. */
  constructor(path: string, message: string, cause?: unknown) {
    super(path, message, cause);
    this.name = "LockedError";
  }
}

/** An open database, the file it is (for errors) and how it writes times. */
export interface Store {
  db: DatabaseSync;
  path: string;
  times: StoredTimes;
}

/** Whether the file system holding `path` has (next to) no space left. */
function diskIsFull(path: string): boolean {
  try {
    const fs = statfsSync(dirname(path));
    return fs.bavail * fs.bsize < 1 << 20;
  } catch {
    return false;
  }
}

function storeError(path: string, e: unknown): StoreError {
  const message = (e as Error).message ?? String(e);
  if (/database is locked|database is busy/i.test(message)) {
    return new LockedError(path, "Database is locked by another run", e);
  }
  if (/not a database|malformed/i.test(message)) {
    return new StoreError(path, "Database file is not a valid SQLite database", e);
  }
  if (/readonly|read-only/i.test(message)) {
    return new StoreError(path, "Database is read-only", e);
  }
  if (/disk is full/i.test(message) || (/disk I\/O/i.test(message) && diskIsFull(path))) {
    return new StoreError(path, "Database disk is full", e);
  }
  if (/disk I\/O/i.test(message)) return new StoreError(path, `Database ${message}`, e);
  if (/unable to open/i.test(message)) return new StoreError(path, "Database cannot be opened", e);
  return new StoreError(path, `Database error: ${message}`, e);
}

/**
 * Runs `fn`, turning SQLite's errors into {@link StoreError}s naming the file.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * const db = new DatabaseSync(":memory:");
 * guard(":memory:", () => db.exec("SELECT 1"));
 * ```
 */
export function guard<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw storeError(path, e);
  }
}

/** How to open the database. */
export interface OpenOptions {
  /** How long to wait for another run holding the database (writing only). */
  lockTimeoutMs: number;
  times: StoredTimes;
}

/**
 * Opens (creating if needed) the database for writing, in WAL mode, waiting up
 * to `lockTimeoutMs` for other writers.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
 * const store = openStore("/tmp/audit.sqlite", { lockTimeoutMs: 60_000, times });
 * store.db.close();
 * ```
 * @throws {StoreError} when it cannot be opened.
 */
export function openStore(path: string, options: OpenOptions): Store {
  return guard(path, () => {
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA busy_timeout = ${Math.floor(options.lockTimeoutMs)}`);
    db.exec("PRAGMA journal_mode = WAL");
    return { db, path, times: options.times };
  });
}

/**
 * Opens the database for reading only (a report never writes it).
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { loadZone } from "../time/zone.ts";
 * const times = { layout: compileLayout("2006-01-02 15:04:05-07:00"), zone: loadZone("UTC") };
 * const store = openStoreReadOnly("/var/lib/mysql/audit.sqlite", times);
 * ```
 * @throws {StoreError} when it does not exist or cannot be opened.
 */
export function openStoreReadOnly(path: string, times: StoredTimes): Store {
  try {
    if (!Deno.statSync(path).isFile) throw new StoreError(path, "Database is not a file");
  } catch (e) {
    if (e instanceof StoreError) throw e;
    if (e instanceof Deno.errors.NotFound) {
      throw new StoreError(path, "Database not found: run conntracker first", e);
    }
    throw new StoreError(path, `Database cannot be opened: ${(e as Error).message}`, e);
  }
  return guard(path, () => {
    const db = new DatabaseSync(path, { readOnly: true });
    db.exec("PRAGMA busy_timeout = 10000");
    return { db, path, times };
  });
}
