/**
 * Scanning byte ranges of audit files, on the calling thread or in a pool of
 * Workers (`scan_worker.ts`) that the calling thread helps out.
 *
 * A Worker cannot see the run's tally, so it keeps its own record of the
 * change-users pending on each connection, by the same rules, starting from
 * those pending when the range was sent, and hands back the lines that
 * matter. The caller scans those (a fraction of the range) in log order,
 * and scans the whole range again on its own thread when a change-user
 * became pending that the Worker did not know of.
 *
 * @module
 */

import { pendingKey, settlesPending, startsPending } from "./aggregate.ts";
import type { LineFormat } from "../format/line.ts";
import type { AuditRecord } from "../format/record.ts";
import {
  type BlockScan,
  type LocatedEvent,
  scanBlock,
  scanBuffer,
  type ScanStats,
} from "../format/scan.ts";
import { type FileProblem, SourceError } from "../input/file.ts";
import { type Range, readBlocks, type ReadResult } from "../input/source.ts";

/** A range to scan, with the change-users pending when it was sent: `[serverHost, connectionId]`. */
export interface RangeTask {
  range: Range;
  format: LineFormat;
  pending: [string, string][];
}

/** What scanning a range found. */
export interface RangeResult {
  /**
   * The lines of connection events and of connections with a pending
   * change-user, in log order, each ending in `\n` (UTF-8; invalid bytes
   * as U+FFFD): bytes cross between threads far cheaper than records.
   */
  lines: Uint8Array<ArrayBuffer>;
  /** Where reading stopped: after the last complete line of the last block scanned. */
  offset: number;
  bytesRead: number;
  longLines: number;
  stats: ScanStats;
  /** Why reading stopped early; the records before `offset` stand. */
  error?: { message: string; problem: FileProblem };
}

/** What {@link scanRange} looks for, and whom it tells. */
export interface ScanRangeOptions extends Omit<BlockScan, "timestampCommas" | "syslogIdent"> {
  format: LineFormat;
  /** Called with the offset after each block. */
  onBlock: (end: number) => void;
}

/**
 * Reads a range and scans its blocks.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { lineFormat } from "../format/line.ts";
 * const range = { path: "/var/lib/mysql/server_audit.log", gzip: false, from: 0 };
 * await scanRange(range, {
 *   format: lineFormat(compileLayout("20060102 15:04:05")),
 *   watched: new Set(),
 *   visit: (r) => console.log(r.user),
 *   stats: { candidates: 0, malformed: 0 },
 *   onBlock: () => {},
 * });
 * ```
 * @throws {SourceError} when the file cannot be opened or read.
 */
export function scanRange(range: Range, options: ScanRangeOptions): Promise<ReadResult> {
  const { watched, visit, event, stats, onBlock } = options;
  const { timestampCommas, syslogIdent } = options.format;
  const scan = { timestampCommas, syslogIdent, watched, visit, event, stats };
  return readBlocks(range, (block, end) => {
    scanBlock(block, scan);
    onBlock(end);
  }, { buffer: scanBuffer() });
}

/**
 * Scans a range apart from the run (in a Worker), following change-users by
 * the tally's rules from those pending in the task. A file that cannot be
 * read gives a result with `error`, not an exception.
 *
 * @example
 * ```ts
 * import { compileLayout } from "../time/layout.ts";
 * import { lineFormat } from "../format/line.ts";
 * const format = lineFormat(compileLayout("20060102 15:04:05"));
 * const range = { path: "/var/lib/mysql/server_audit.log.1", gzip: false, from: 0 };
 * const result = await scanDetached({ range, format, pending: [] });
 * result.lines.length; // bytes of the lines found
 * ```
 */
export async function scanDetached(task: RangeTask): Promise<RangeResult> {
  const pending = new Map(task.pending.map(([host, id]) => [pendingKey(host, id), id]));
  const watched = new Set(pending.values());
  let lines = new Uint8Array(1 << 20), length = 0;
  const append = (bytes: Uint8Array) => {
    if (length + bytes.length + 1 > lines.length) {
      const more = new Uint8Array(Math.max(2 * lines.length, length + bytes.length + 1));
      more.set(lines.subarray(0, length));
      lines = more;
    }
    lines.set(bytes, length);
    lines[length + bytes.length] = 10;
    length += bytes.length + 1;
  };
  const encoder = new TextEncoder();
  const stats: ScanStats = { candidates: 0, malformed: 0 };
  let offset = task.range.from;
  const visit = (record: AuditRecord, line: string) => {
    append(encoder.encode(line));
    const key = pendingKey(record.serverHost, record.connectionId);
    const settled = pending.has(key) && settlesPending(record) !== undefined;
    if (settled) pending.delete(key);
    if (startsPending(record)) pending.set(key, record.connectionId);
    if (settled || startsPending(record)) {
      watched.clear();
      for (const id of pending.values()) watched.add(id);
    }
  };
  // A sign-in on a connection not watched is handed on as it is; the others may change
  // what is pending, which visit() follows.
  const event = (e: LocatedEvent) => {
    if (e.watched || e.operation === "CHANGEUSER") return false;
    append(e.bytes.subarray(e.start, e.end));
    return true;
  };
  const result = (read: Omit<RangeResult, "lines" | "stats">) => ({
    lines: lines.slice(0, length),
    stats,
    ...read,
  });
  try {
    const read = await scanRange(task.range, {
      format: task.format,
      watched,
      visit,
      event,
      stats,
      onBlock: (end) => offset = end,
    });
    return result({ offset: read.offset, bytesRead: read.bytesRead, longLines: read.longLines });
  } catch (e) {
    if (!(e instanceof SourceError)) throw e;
    const error = { message: e.message, problem: e.problem };
    return result({ offset, bytesRead: 0, longLines: 0, error });
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
 * import { compileLayout } from "../time/layout.ts";
 * import { lineFormat } from "../format/line.ts";
 * const format = lineFormat(compileLayout("20060102 15:04:05"));
 * const pool = createScanPool(2);
 * const range = { path: "/var/lib/mysql/server_audit.log.1", gzip: false, from: 0 };
 * const result = await pool.scan({ range, format, pending: [] });
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
