/**
 * A deliberately simple second implementation of what conntracker counts, for
 * use as a test oracle: whole text, `split("\n")`, `split(",")`, no scanning
 * tricks. User names and databases may hold commas, so after the split the
 * fields are found by their anchors: the ids and the operation are the first
 * `digits,digits,CAPITALS` at least two fields after the server host, the
 * host is the field before them and the user is re-joined from the fields
 * between; a connection event's retcode is its last field, or the one before
 * a last that is not a number (the TLS field).
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

const CONNECTION_OPS = ["CONNECT", "DISCONNECT", "FAILED_CONNECT", "CHANGEUSER", "PROXY_CONNECT"];

function host(raw: string): string {
  const h = raw;
  const bracketed = /^\[([^\]]*)\](:\d+|:unavailable)?$/.exec(h);
  if (bracketed) return bracketed[1];
  if (h.endsWith(":unavailable")) return h.slice(0, h.length - 12);
  const parts = h.split(":");
  // A port has at most five digits.
  return parts.length === 2 && /^\d{1,5}$/.test(parts[1]) ? parts[0] : h;
}

function trim(text: string): string {
  return text.replace(/^ +| +$/g, "");
}

/** One line's fields that count, or `undefined` when it is no audit event. */
function parseLine(line: string) {
  const f = line.split(",");
  const number = (i: number) => i < f.length && /^ *-?\d+ *$/.test(f[i]);
  const digits = (i: number) => number(i) && !f[i].includes("-");
  let ids = 4;
  while (
    ids + 3 < f.length && !(digits(ids) && digits(ids + 1) && /^ *[A-Z_]+ *$/.test(f[ids + 2]))
  ) ids++;
  if (ids + 3 >= f.length || trim(f[0]) === "") return undefined;
  const op = trim(f[ids + 2]) === "CHANGE_USER" ? "CHANGEUSER" : trim(f[ids + 2]);
  let last = f.length - 1;
  if (CONNECTION_OPS.includes(op)) {
    if (last - (ids + 3) >= 3 && !number(last) && number(last - 1)) last--;
    if (last - (ids + 3) < 2 || !number(last)) return undefined;
  } else if (last - (ids + 3) < 1) return undefined;
  return {
    ts: trim(f[0]),
    server: trim(f[1]),
    user: trim(f.slice(2, ids - 1).join(",")),
    host: host(trim(f[ids - 1])),
    conn: trim(f[ids]),
    op,
    retcode: trim(f[last]),
  };
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
    const r = parseLine(line);
    if (!r) continue;
    const { ts, user, op, retcode } = r;
    const key = r.server + "/" + r.conn;
    const successfulChange = op === "CHANGEUSER" && retcode === "0";
    if (pending.has(key)) {
      const failedChange = op === "CHANGEUSER" && retcode !== "0";
      if (
        op === "CONNECT" || op === "FAILED_CONNECT" || successfulChange ||
        (op === "DISCONNECT" && user === "")
      ) {
        pending.delete(key);
      } else if (user !== "" && !failedChange) {
        const a = get(`${user}@${r.host}`);
        a.logins++;
        a.lastLogin = pending.get(key);
        pending.delete(key);
      }
    }
    if (successfulChange && (user === "" || r.host === "")) {
      pending.set(key, ts);
      continue;
    }
    if (!["CONNECT", "FAILED_CONNECT", "CHANGEUSER"].includes(op)) continue;
    if (user === "" && r.host === "") continue;
    const a = get(`${user}@${r.host}`);
    if ((op === "CONNECT" || op === "CHANGEUSER") && retcode === "0") {
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
