/**
 * Scanning byte ranges of audit files, on the calling thread or in a pool of
 * Workers (`scan_worker.ts`) that the calling thread helps out.
 *
 * A Worker cannot see the run's tally, so it keeps its own record of the
 * change-users pending on each connection, by the same rules, starting from
 * those pending when the range was sent. Its records are applied in log
 * order by the caller, which scans a range again on its own thread when a
 * change-user became pending that the Worker did not know of.
 *
 * @module
 */

import { pendingKey, settlesPending, startsPending } from "./aggregate.ts";
import { type AuditRecord, scanBlock, type ScanStats } from "../format/scan.ts";
import { readBlocks, type ReadResult, SourceError } from "../input/source.ts";

/** Lines of a file that start at or after `from` and before `to` (or the end). */
export interface Range {
  path: string;
  gzip: boolean;
  from: number;
  /** A line start; absent for the last range of a file, which reads to its end. */
  to?: number;
}

/** A range to scan, with the change-users pending when it was sent: `[serverHost, connectionId]`. */
export interface RangeTask {
  range: Range;
  timestampCommas: number;
  pending: [string, string][];
}

/** What scanning a range found. */
export interface RangeResult {
  /**
   * The lines of connection events and of connections with a pending
   * change-user, in log order, each ending in `\n`: one string crosses
   * between threads far cheaper than many records.
   */
  lines: string;
  /** Where reading stopped: after the last complete line of the last block scanned. */
  offset: number;
  bytesRead: number;
  longLines: number;
  stats: ScanStats;
  /** Why reading stopped early; the records before `offset` stand. */
  error?: string;
}

/**
 * Reads a range and scans its blocks, calling `visit` with every connection
 * event and every line of a connection in `watched` (which `visit` may
 * change), and `onBlock` with the offset after each block.
 *
 * @example
 * ```ts
 * const stats = { candidates: 0, malformed: 0 };
 * const range = { path: "/var/lib/mysql/server_audit.log", gzip: false, from: 0 };
 * await scanRange(range, 0, new Set(), (r) => console.log(r.user), stats, () => {});
 * ```
 * @throws {SourceError} when the file cannot be opened or read.
 */
export function scanRange(
  range: Range,
  timestampCommas: number,
  watched: ReadonlySet<string>,
  visit: (record: AuditRecord, line: string) => void,
  stats: ScanStats,
  onBlock: (end: number) => void,
): Promise<ReadResult> {
  return readBlocks(range.path, range.gzip, range.from, (block, end) => {
    scanBlock(block, timestampCommas, watched, visit, stats);
    onBlock(end);
  }, { end: range.to });
}

/**
 * Scans a range apart from the run (in a Worker), following change-users by
 * the tally's rules from those pending in the task. A file that cannot be
 * read gives a result with `error`, not an exception.
 *
 * @example
 * ```ts
 * const range = { path: "/var/lib/mysql/server_audit.log.1", gzip: false, from: 0 };
 * const result = await scanDetached({ range, timestampCommas: 0, pending: [] });
 * result.lines.split("\n").length - 1; // lines found
 * ```
 */
export async function scanDetached(task: RangeTask): Promise<RangeResult> {
  const pending = new Map(task.pending.map(([host, id]) => [pendingKey(host, id), id]));
  const watched = new Set(pending.values());
  const lines: string[] = [];
  const stats: ScanStats = { candidates: 0, malformed: 0 };
  let offset = task.range.from;
  const visit = (record: AuditRecord, line: string) => {
    lines.push(line, "\n");
    const key = pendingKey(record.serverHost, record.connectionId);
    const settled = pending.has(key) && settlesPending(record) !== undefined;
    if (settled) pending.delete(key);
    if (startsPending(record)) pending.set(key, record.connectionId);
    if (settled || startsPending(record)) {
      watched.clear();
      for (const id of pending.values()) watched.add(id);
    }
  };
  try {
    const read = await scanRange(task.range, task.timestampCommas, watched, visit, stats, (end) => {
      offset = end;
    });
    return {
      lines: lines.join(""),
      offset: read.offset,
      bytesRead: read.bytesRead,
      longLines: read.longLines,
      stats,
    };
  } catch (e) {
    if (!(e instanceof SourceError)) throw e;
    return { lines: lines.join(""), offset, bytesRead: 0, longLines: 0, stats, error: e.message };
  }
}

/** Workers that scan ranges, one at a time each, in the order they were sent. */
export interface ScanPool {
  /** Scans a range in the next free Worker. */
  scan(task: RangeTask): Promise<RangeResult>;
  /**
   * Scans, on this thread, the earliest range sent that no Worker has
   * started; `false` when there is none. The caller thus helps out while it
   * waits, instead of idling.
   */
  helpOut(): Promise<boolean>;
  /** Stops the Workers. */
  close(): void;
}

interface Job {
  task: RangeTask;
  resolve: (result: RangeResult) => void;
  reject: (error: Error) => void;
}

/**
 * Starts `size` scanning Workers (none: the caller scans everything through
 * {@link ScanPool.helpOut}).
 *
 * @example
 * ```ts
 * const pool = createScanPool(2);
 * const range = { path: "/var/lib/mysql/server_audit.log.1", gzip: false, from: 0 };
 * const result = await pool.scan({ range, timestampCommas: 0, pending: [] });
 * pool.close();
 * ```
 */
export function createScanPool(size: number): ScanPool {
  const queue: Job[] = [];
  const idle: Worker[] = [];
  const busy = new Map<Worker, Job>();
  const url = new URL("./scan_worker.ts", import.meta.url).href;
  const dispatch = () => {
    while (idle.length > 0 && queue.length > 0) {
      const worker = idle.pop()!, job = queue.shift()!;
      busy.set(worker, job);
      worker.postMessage(job.task);
    }
  };
  const settle = (worker: Worker) => {
    const job = busy.get(worker)!;
    busy.delete(worker);
    idle.push(worker);
    dispatch();
    return job;
  };
  const workers = Array.from({ length: size }, () => {
    const worker = new Worker(url, { type: "module" });
    worker.onmessage = (e: MessageEvent<RangeResult>) => settle(worker).resolve(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      settle(worker).reject(new Error(`Scanning worker failed: ${e.message}`));
    };
    idle.push(worker);
    return worker;
  });
  return {
    scan(task) {
      return new Promise((resolve, reject) => {
        queue.push({ task, resolve, reject });
        dispatch();
      });
    },
    async helpOut() {
      const job = queue.shift();
      if (!job) return false;
      await scanDetached(job.task).then(job.resolve, job.reject);
      return true;
    },
    close() {
      for (const worker of workers) worker.terminate();
    },
  };
}
