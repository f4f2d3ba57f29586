/**
 * The scanning Worker: scans each range it is sent and posts back what it
 * found (see `parallel.ts`).
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { type RangeTask, scanDetached } from "./parallel.ts";

self.onmessage = async (e: MessageEvent<RangeTask>) => {
  const result = await scanDetached(e.data);
  self.postMessage(result, [result.lines.buffer as ArrayBuffer]);
};
