/**
 * `deno task capture [e2e|shapes|resolve] [DIR]`: plays a scenario against a
 * throwaway MariaDB server and keeps what it produced as a fixture (default
 * `tests/fixtures/mariadb-10.11-KIND`): the audit files, `mysql_user.tsv` (the
 * output of `mariadb -N -B -e "SELECT User, Host FROM mysql.user"`), and
 * `manifest.json` with every attempt, its time window and the account the
 * server chose. For `shapes` and `resolve` each attempt also names the audit
 * line that records it (found by the connection id the server gave the
 * client) and the file it is in; with name resolution on, the host the log
 * wrote. The fast tests replay these real lines without a server.
 *
 * @module
 */

import { join } from "node:path";
import { FIXTURES } from "./helpers.ts";
import {
  type Attempt,
  type MariaDb,
  rootSql,
  SERVER_TZ,
  type ServerOptions,
  withMariaDb,
} from "./mariadb.ts";
import { playResolve, playScenario, playShapes } from "./scenario.ts";

/** One kind of capture. */
interface Capture {
  dir: string;
  server: ServerOptions;
  play: (server: MariaDb) => Promise<Attempt[]>;
  /** Whether to find each attempt's audit line (needs connection ids, no look-alike queries). */
  attribute: boolean;
}

const CAPTURES: Record<string, Capture> = {
  e2e: {
    dir: "mariadb-10.11-e2e",
    server: { events: "CONNECT,QUERY,TABLE", rotateSize: 8192, rotations: 20 },
    play: playScenario,
    attribute: false,
  },
  shapes: {
    dir: "mariadb-10.11-shapes",
    server: { events: "CONNECT,QUERY", queryLogLimit: 65536, rotations: 9 },
    play: playShapes,
    attribute: true,
  },
  resolve: {
    dir: "mariadb-10.11-resolve",
    server: { events: "CONNECT,QUERY", nameResolve: true },
    play: playResolve,
    attribute: true,
  },
};

/**
 * An audit line: user (may hold commas), host, connection id, operation, retcode. Good
 * enough for these scenarios, which run no query that looks like an audit line.
 */
const AUDIT_LINE = /^\d{8} \d\d:\d\d:\d\d,[^,]*,(.*),([^,]*),(\d+),\d+,([A-Z_]+),.*,(\d*)$/;

/** One audit line of the capture, in file order. */
interface Line {
  file: string;
  text: string;
  user: string;
  host: string;
  id: number;
  op: string;
  retcode: number;
}

function auditLines(dir: string, oldestFirst: string[]): Line[] {
  const out: Line[] = [];
  for (const file of oldestFirst) {
    // Query lines may not be valid UTF-8; connection lines are.
    for (const text of new TextDecoder().decode(Deno.readFileSync(join(dir, file))).split("\n")) {
      const m = AUDIT_LINE.exec(text);
      if (!m) continue;
      const [, user, host, id, op, retcode] = m;
      out.push({ file, text, user, host, id: Number(id), op, retcode: Number(retcode) });
    }
  }
  return out;
}

/**
 * Gives each attempt the audit line that records it: by connection id (a
 * change-user is that connection's next `CHANGEUSER`), else the next unclaimed
 * login line of that user; a successful change-user also the next line of its
 * connection, which names the account. Checks that the lines say what the
 * attempt did; with name resolution the attempt's host becomes the host the
 * log wrote.
 */
function attachLogged(attempts: Attempt[], lines: Line[], nameResolve: boolean): void {
  const claimed = new Set<Line>();
  let cursor = 0;
  for (const a of attempts) {
    const loginOp = (l: Line) => l.op === "CONNECT" || l.op === "FAILED_CONNECT";
    const line = a.connectionId === undefined
      ? lines.find((l, i) => i >= cursor && !claimed.has(l) && loginOp(l) && l.user === a.user)
      : lines.find((l) =>
        !claimed.has(l) && l.id === a.connectionId &&
        (a.changeUser ? l.op === "CHANGEUSER" : loginOp(l))
      );
    if (!line) throw new Error(`no audit line for ${JSON.stringify(a)}`);
    claimed.add(line);
    cursor = lines.indexOf(line) + 1;
    const ok = line.retcode === 0 && line.op !== "FAILED_CONNECT";
    const anonymous = a.changeUser && ok;
    const naming = anonymous ? lines.slice(cursor).find((l) => l.id === line.id) : line;
    const host = naming?.host ?? "";
    const expected = [a.ok, a.user, nameResolve ? host : a.host];
    if (JSON.stringify([ok, naming?.user, host]) !== JSON.stringify(expected)) {
      throw new Error(`the audit lines ${line.text} ${naming?.text} are not ${JSON.stringify(a)}`);
    }
    a.host = host;
    a.logged = line.text;
    if (anonymous) a.namedBy = naming!.text;
    a.file = line.file;
  }
}

/** `getent hosts NAME`: what the system resolver (`/etc/hosts` included) says. */
async function getent(name: string): Promise<string> {
  const out = await new Deno.Command("getent", { args: ["hosts", name], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).trim() || `(not found, exit ${out.code})`;
}

/** How this machine resolves the loopback addresses and names the capture used. */
async function resolver(): Promise<Record<string, unknown>> {
  const names = ["127.0.0.1", "127.0.0.2", "localhost", Deno.hostname()];
  return {
    hostname: Deno.hostname(),
    etc_hosts: Deno.readTextFileSync("/etc/hosts").split("\n").filter((l) => /^\s*[^#\s]/.test(l)),
    nsswitch_hosts: Deno.readTextFileSync("/etc/nsswitch.conf").split("\n")
      .find((l) => l.startsWith("hosts:")),
    getent_hosts: Object.fromEntries(
      await Promise.all(names.map(async (n) => [n, await getent(n)])),
    ),
  };
}

function describe(options: ServerOptions): string {
  return [
    `server_audit_events=${options.events}`,
    `file_rotate_size=${options.rotateSize ?? 1_000_000}`,
    `file_rotations=${options.rotations ?? 9}`,
    ...(options.queryLogLimit ? [`query_log_limit=${options.queryLogLimit}`] : []),
    options.nameResolve ? "name resolution on" : "--skip-name-resolve",
  ].join("; ");
}

const [kind = "e2e", outArg] = Deno.args;
const capture = CAPTURES[kind];
if (!capture) {
  console.error(`Unknown capture "${kind}": use ${Object.keys(CAPTURES).join(", ")}`);
  Deno.exit(2);
}
const out = outArg ?? join(FIXTURES, capture.dir);

await withMariaDb(capture.server, async (server) => {
  const attempts = await capture.play(server);
  // The server writes a DISCONNECT after the client has gone.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const users = await rootSql(server, "SELECT User, Host FROM mysql.user");
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await Deno.mkdir(out, { recursive: true });
  const auditDir = join(server.auditLog, "..");
  const files = [];
  for (const entry of Deno.readDirSync(auditDir)) {
    const stat = await Deno.stat(join(auditDir, entry.name));
    files.push({ name: entry.name, mtime: stat.mtime!.getTime() });
    await Deno.copyFile(join(auditDir, entry.name), join(out, entry.name));
  }
  // Oldest first: by modification time, then the higher rotation number first.
  files.sort((a, b) => a.mtime - b.mtime || b.name.localeCompare(a.name));
  const oldestFirst = files.map((f) => f.name);
  if (capture.attribute) {
    attachLogged(attempts, auditLines(out, oldestFirst), capture.server.nameResolve ?? false);
  }
  await Deno.writeTextFile(
    join(out, "mysql_user.tsv"),
    users.map((row) => row.join("\t") + "\n").join(""),
  );
  const firstLines = Object.fromEntries(oldestFirst.map((name) => {
    const bytes = Deno.readFileSync(join(out, name));
    const end = bytes.indexOf(10);
    return [name, end < 0 ? bytes.length : end];
  }));
  const manifest = {
    server: server.version,
    time_zone: `${SERVER_TZ} (TZ of the server process)`,
    audit_options: describe(capture.server),
    made_by: `deno task capture ${kind} (tests/capture.ts, scenario in tests/scenario.ts)`,
    files_oldest_first: oldestFirst,
    first_line_bytes: firstLines,
    ...(capture.server.nameResolve ? { resolver: await resolver() } : {}),
    attempts: attempts.map((a) => ({
      ...a,
      before_iso: new Date(a.before).toISOString(),
      after_iso: new Date(a.after).toISOString(),
    })),
  };
  await Deno.writeTextFile(join(out, "manifest.json"), JSON.stringify(manifest, null, 1) + "\n");
  console.log(`captured ${files.length} files and ${attempts.length} attempts in ${out}`);
});
