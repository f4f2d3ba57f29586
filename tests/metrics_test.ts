/**
 * A run's metrics: one record, and every consumer (the returned summary, the
 * `runs` row, the `run finished` line) shows the same figures. The oracle for
 * the figures is the reference counter and the bytes the test wrote.
 *
 * @module
 */

import { deepStrictEqual as assertEquals } from "node:assert";
import { join } from "node:path";
import { loadConfig } from "../lib/config.ts";
import { createLogger, formatValue } from "../lib/log.ts";
import { metricsAttrs } from "../lib/track/metrics.ts";
import { runTracking } from "../lib/track/run.ts";
import { nextWatermark } from "../lib/track/watermark.ts";
import {
  copyAuditFiles,
  FILES_FULL,
  FIXTURES,
  sqlite3,
  withTempDir,
  writeConfig,
} from "./helpers.ts";
import { referenceCounts } from "./reference.ts";

Deno.test("runTracking() builds one metrics record: the summary, the runs row and the log line agree", async () => {
  await withTempDir(async (dir) => {
    await copyAuditFiles("mariadb-10.11-full", FILES_FULL, dir);
    let text = "", bytes = 0;
    for (const name of FILES_FULL) {
      const content = await Deno.readFile(join(FIXTURES, "mariadb-10.11-full", name));
      text += new TextDecoder().decode(content);
      bytes += content.length;
    }
    const config = await loadConfig(await writeConfig(dir, { AuditLogPath: dir }));
    const lines: string[] = [];
    let clock = Date.parse("2026-11-25T10:00:00Z");
    const now = () => (clock += 250);
    const { metrics } = await runTracking({
      config,
      log: createLogger("INFO", (line) => lines.push(line)),
      now,
    });
    const reference = referenceCounts(text);
    assertEquals(
      [metrics.logins, metrics.failed],
      [
        reference.reduce((sum, [, logins]) => sum + logins, 0),
        reference.reduce((sum, [, , failed]) => sum + failed, 0),
      ],
    );
    assertEquals([metrics.filesRead, metrics.bytesRead], [FILES_FULL.length, bytes]);
    assertEquals([metrics.startedMs, metrics.finishedMs], [
      Date.parse("2026-11-25T10:00:00.250Z"),
      Date.parse("2026-11-25T10:00:00.500Z"),
    ]);
    const db = join(dir, "audit.sqlite");
    assertEquals(
      await sqlite3(
        db,
        "SELECT started_ms, finished_ms, files_read, bytes_read, logins, failed_attempts, " +
          "malformed, long_lines, empty_user, losses, errors FROM runs;",
      ),
      [[
        metrics.startedMs,
        metrics.finishedMs,
        metrics.filesRead,
        metrics.bytesRead,
        metrics.logins,
        metrics.failed,
        metrics.malformed,
        metrics.longLines,
        metrics.emptyUser,
        metrics.losses,
        metrics.errors,
      ].map(String)],
    );
    assertEquals(
      await sqlite3(db, "SELECT count(*) FROM pending_change_user;"),
      [[String(metrics.changeUsersPending)]],
    );
    const finished = lines.filter((l) => l.includes('msg="run finished"'));
    assertEquals(finished.length, 1);
    const attrs = Object.entries(metricsAttrs(metrics))
      .map(([key, value]) => `${key}=${formatValue(value!)}`).join(" ");
    assertEquals(finished[0].endsWith(` ${attrs}`), true, finished[0]);
  });
});

Deno.test("nextWatermark() is the newest audit file in whole seconds, below any that failed, forward only", () => {
  assertEquals(nextWatermark({ handledMtimes: [], failedMtimes: [] }), undefined);
  assertEquals(nextWatermark({ handledMtimes: [1_500, 9_999], failedMtimes: [] }), 9_000);
  assertEquals(nextWatermark({ handledMtimes: [9_999], failedMtimes: [4_000] }), 3_000);
  assertEquals(nextWatermark({ handledMtimes: [9_999], failedMtimes: [4_001] }), 4_000);
  assertEquals(
    nextWatermark({ handledMtimes: [9_999], failedMtimes: [], previous: 9_000 }),
    undefined,
  );
  assertEquals(nextWatermark({ handledMtimes: [9_999], failedMtimes: [], previous: 8_999 }), 9_000);
});
