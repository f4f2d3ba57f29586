/**
 * The SQLite database (`node:sqlite`) as a handle: opening it for a run or for
 * a report, and turning SQLite's errors into {@link StoreError}s that name the
 * file. `node:sqlite` gives no error codes in Deno, so SQLite's messages are
 * read here, once, and nowhere else.
 *
 * @module
 */

import { dirname } from "node:path";
import process from "node:process";
import { DatabaseSync } from "node:sqlite";
import { describeFileError } from "../input/file.ts";
import { processUser } from "../input/user.ts";
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

/** No run has completed yet: the database does not exist, or holds no tables yet. */
export class NoRunYetError extends StoreError {
  /** Creates the error. */
  constructor(path: string, message: string, cause?: unknown) {
    super(path, message, cause);
    this.name = "NoRunYetError";
  }
}

/** An open database, the file it is (for errors) and how it writes times. */
export interface Store {
  db: DatabaseSync;
  path: string;
  times: StoredTimes;
}

/**
 * `node:fs`, for the checks after a failure only (`access`, `statfs`: Deno's API has neither),
 * taken when needed: a static import of it costs every run about 3 ms (its module evaluates the
 * lazy stream getters), which the `require` of `commander` does not.
 */
function nodeFs(): typeof import("node:fs") {
  return process.getBuiltinModule("node:fs");
}

/** Whether the file system holding `path` has (next to) no space left. */
function diskIsFull(path: string): boolean {
  try {
    const fs = nodeFs().statfsSync(dirname(path));
    return fs.bavail * fs.bsize < 1 << 20;
  } catch {
    return false;
  }
}

/** A file-system error in words, with the user this process runs as when it is a permission. */
function fileErrorAs(e: unknown): string {
  const words = describeFileError(e);
  return e instanceof Deno.errors.PermissionDenied ? `${words}, as ${processUser()}` : words;
}

/**
 * Why this user may not open the database, when permissions are the cause:
 * reading the file, writing in its directory or its `-wal` and `-shm` files
 * (SQLite needs them, for a reader too), writing the file.
 */
function permissionCause(path: string): string | undefined {
  const { accessSync, constants, existsSync } = nodeFs();
  const denied = (p: string, mode: number) => {
    try {
      accessSync(p, mode);
      return false;
    } catch (e) {
      return (e as { code?: string }).code === "EACCES";
    }
  };
  const dir = dirname(path);
  const rw = constants.R_OK | constants.W_OK;
  const side = ["-wal", "-shm"].map((s) => path + s).find((p) => existsSync(p) && denied(p, rw));
  const why = denied(path, constants.R_OK)
    ? "permission denied reading it"
    : denied(dir, constants.W_OK | constants.X_OK)
    ? `permission denied writing in "${dir}" (SQLite's -wal and -shm files go there)`
    : side
    ? `permission denied writing "${side}"`
    : denied(path, constants.W_OK)
    ? "permission denied writing it"
    : undefined;
  return why && `${why}, as ${processUser()}`;
}

/**
 * The {@link StoreError} for an error of SQLite's, by its message: Deno's
 * `node:sqlite` errors carry no SQLite result code (`tests/store_error_test.ts`
 * makes each message for real, so that a rewording fails a test).
 */
function storeError(path: string, e: unknown): StoreError {
  const message = (e as Error).message ?? String(e);
  if (/database is locked/i.test(message)) {
    return new LockedError(path, "Database is locked by another run", e);
  }
  if (/not a database|malformed/i.test(message)) {
    return new StoreError(path, "Database file is not a valid SQLite database", e);
  }
  if (/readonly/i.test(message)) {
    const cause = permissionCause(path);
    return new StoreError(path, `Database is read-only${cause ? `: ${cause}` : ""}`, e);
  }
  if (/disk is full/i.test(message) || (/disk I\/O/i.test(message) && diskIsFull(path))) {
    return new StoreError(path, "Database disk is full", e);
  }
  if (/disk I\/O/i.test(message)) return new StoreError(path, `Database ${message}`, e);
  if (/unable to open/i.test(message)) {
    const cause = permissionCause(path);
    return new StoreError(path, `Database cannot be opened${cause ? `: ${cause}` : ""}`, e);
  }
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

/** The set-group-ID bit of a mode. */
const SETGID = 0o2000;

/**
 * The mode of a new database file in a directory of mode `dirMode`: `0640`
 * when the directory is set-group-ID, or readable by its group and not by
 * others (its group is there to share its files); else `0600`. The umask may
 * narrow it further.
 *
 * @example
 * ```ts
 * newDatabaseMode(0o750); // 0o640
 * newDatabaseMode(0o755); // 0o600
 * newDatabaseMode(0o2775); // 0o640
 * ```
 */
export function newDatabaseMode(dirMode: number): number {
  const groupOnly = (dirMode & 0o040) !== 0 && (dirMode & 0o004) === 0;
  return (dirMode & SETGID) !== 0 || groupOnly ? 0o640 : 0o600;
}

/** The directory of a database file, checked: a {@link StoreError} says why it cannot hold it. */
function databaseDirectory(path: string): Deno.FileInfo {
  const dir = dirname(path);
  try {
    const info = Deno.statSync(dir);
    if (info.isDirectory) return info;
    throw new StoreError(path, `Database directory "${dir}" is not a directory`);
  } catch (e) {
    if (e instanceof StoreError) throw e;
    if (e instanceof Deno.errors.NotFound) {
      throw new StoreError(path, `Database directory "${dir}" does not exist`, e);
    }
    throw new StoreError(
      path,
      `Database directory "${dir}" cannot be read: ${fileErrorAs(e)}`,
      e,
    );
  }
}

/**
 * Creates the database file, when there is none, with {@link newDatabaseMode}
 * and its directory's group; SQLite gives its `-wal` and `-shm` the file's
 * mode. An existing file is left as it is.
 */
function createDatabaseFile(path: string): void {
  if (path === ":memory:" || path === "" || path.startsWith("file:")) return;
  try {
    Deno.statSync(path);
    return;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return; // SQLite says what is wrong.
  }
  const dir = databaseDirectory(path);
  const mode = newDatabaseMode(dir.mode ?? 0);
  try {
    Deno.openSync(path, { createNew: true, write: true, mode }).close();
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return; // Another run made it first.
    throw new StoreError(
      path,
      `Database cannot be created in "${dirname(path)}": ${fileErrorAs(e)}`,
    );
  }
  if (mode !== 0o640 || (dir.mode! & SETGID) !== 0) return;
  try {
    Deno.chownSync(path, null, dir.gid);
  } catch {
    // Not a member of the directory's group: then that group shall not read it.
    Deno.chmodSync(path, 0o600);
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
  createDatabaseFile(path);
  return guard(path, () => {
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA busy_timeout = ${Math.floor(options.lockTimeoutMs)}`);
    db.exec("PRAGMA journal_mode = WAL");
    return { db, path, times: options.times };
  });
}

/**
 * Whether anything is at `path`, as `existsSync` tells (an error counts as
 * nothing: opening the file then says what is wrong). A dry run and `check`
 * must not create the database.
 *
 * @example
 * ```ts
 * storeExists("/var/lib/mysql/audit.sqlite");
 * ```
 */
export function storeExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
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
 * @throws {NoRunYetError} when it does not exist (its directory does), and
 * {@link StoreError} when it cannot be opened.
 */
export function openStoreReadOnly(path: string, times: StoredTimes): Store {
  try {
    if (!Deno.statSync(path).isFile) throw new StoreError(path, "Database is not a file");
  } catch (e) {
    if (e instanceof StoreError) throw e;
    if (e instanceof Deno.errors.NotFound) {
      databaseDirectory(path);
      throw new NoRunYetError(path, "No run has completed yet: the database does not exist", e);
    }
    throw new StoreError(path, `Database cannot be opened: ${fileErrorAs(e)}`, e);
  }
  return guard(path, () => {
    const db = new DatabaseSync(path, { readOnly: true });
    db.exec("PRAGMA busy_timeout = 10000");
    return { db, path, times };
  });
}
