/**
 * A deliberately simple second implementation of what conntracker counts, for
 * use as a test oracle: whole text, `split("\n")`, `split(",")`, no scanning
 * tricks. The first seven fields never contain a comma, so a plain split
 * finds the operation.
 *
 * @module
 */

/** Per `user@host`: successful logins, failed attempts and the raw timestamp of the last of each. */
export interface ReferenceAccount {
  logins: number;
  failed: number;
  lastLogin?: string;
  lastFailed?: string;
}

function host(raw: string): string {
  const h = raw;
  if (h.endsWith(":unavailable")) return h.slice(0, h.length - 12);
  const parts = h.split(":");
  return parts.length === 2 && /^\d+$/.test(parts[1]) ? parts[0] : h;
}

/**
 * Counts logins and failed attempts in audit text (lines in log order).
 * "Last" is the last in log order, which is the latest for logs without
 * clock steps.
 *
 * @example
 * ```ts
 * referenceCount("t,vm,bob,h,1,0,CONNECT,,,0\n").get("bob@h")?.logins; // 1
 * ```
 */
export function referenceCount(text: string): Map<string, ReferenceAccount> {
  const out = new Map<string, ReferenceAccount>();
  const get = (key: string) => {
    if (!out.has(key)) out.set(key, { logins: 0, failed: 0 });
    return out.get(key)!;
  };
  const pending = new Map<string, string>();
  for (let line of text.split("\n")) {
    if (line.endsWith("\r")) line = line.slice(0, -1);
    const f = line.split(",");
    if (f.length < 10 || !/^ *\d+ *$/.test(f[4])) continue;
    const [ts, server, user, rawHost, conn, , rawOp] = f.map((x) => x.replace(/^ +| +$/g, ""));
    const op = rawOp === "CHANGE_USER" ? "CHANGEUSER" : rawOp;
    const connOp = ["CONNECT", "DISCONNECT", "FAILED_CONNECT", "CHANGEUSER", "PROXY_CONNECT"]
      .includes(op);
    if (connOp && f.length !== 10 && f.length !== 11) continue;
    const retcode = (connOp ? f[9] : f[f.length - 1]).replace(/^ +| +$/g, "");
    const key = server + "/" + conn;
    if (pending.has(key)) {
      const failedChange = op === "CHANGEUSER" && retcode !== "0";
      if (
        op === "CONNECT" || op === "FAILED_CONNECT" || (op === "CHANGEUSER" && !failedChange) ||
        (op === "DISCONNECT" && user === "")
      ) {
        pending.delete(key);
      } else if (user !== "" && !failedChange) {
        const a = get(`${user}@${host(rawHost)}`);
        a.logins++;
        a.lastLogin = pending.get(key);
        pending.delete(key);
      }
    }
    if (op === "CHANGEUSER" && retcode === "0") {
      pending.set(key, ts);
      continue;
    }
    if (user === "" || !["CONNECT", "FAILED_CONNECT", "CHANGEUSER"].includes(op)) continue;
    const a = get(`${user}@${host(rawHost)}`);
    if (op === "CONNECT" && retcode === "0") {
      a.logins++;
      a.lastLogin = ts;
    } else {
      a.failed++;
      a.lastFailed = ts;
    }
  }
  return out;
}

/**
 * {@link referenceCount} as `[user@host, logins, failed attempts]`, sorted by
 * key in byte order (as SQLite's `ORDER BY`).
 *
 * @example
 * ```ts
 * referenceCounts("t,vm,bob,h,8,0,CONNECT,,,0\n"); // [["bob@h", 1, 0]]
 * ```
 */
export function referenceCounts(text: string): [string, number, number][] {
  return [...referenceCount(text)]
    .map(([k, a]): [string, number, number] => [k, a.logins, a.failed])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
