/**
 * `deno task capture syslog [DIR]`: the end-to-end scenario of `deno task
 * capture` (`playScenario`) against a throwaway server with
 * `server_audit_output_type=syslog`, whose `syslog()` calls reach a real
 * `rsyslogd` writing both of its file formats; the real `logrotate` rotates
 * the files where the plugin would rotate its own (`create` with a HUP,
 * `compress`, `delaycompress` for the RFC 3339 file; `copytruncate` for the
 * traditional one), and another program logs lines between the logins, some
 * of which look like audit events. Keeps (default
 * `tests/fixtures/mariadb-10.11-syslog-e2e`) each format's files in a folder
 * of its own, `mysql_user.tsv`, and `manifest.json` with every attempt (its
 * time window and `CURRENT_USER()`) and each file's modification time, which
 * the traditional format's year is read from.
 *
 * @module
 */

import { join } from "node:path";
import { FIXTURES, withTempDir } from "./helpers.ts";
import { rootSql, SERVER_TZ, withMariaDb } from "./mariadb.ts";
import {
  devLogWrap,
  logger,
  logrotate,
  type Rsyslog,
  type SyslogFormat,
  withRsyslog,
} from "./rsyslog.ts";
import { playScenario } from "./scenario.ts";

/** Where the capture is kept. */
export const SYSLOG_CAPTURE = "mariadb-10.11-syslog-e2e";

/** How each format's file is rotated. */
const ROTATION = {
  rfc3339: { method: "create", compress: true, delaycompress: true },
  traditional: { method: "copytruncate" },
} as const;

/** Lines of other programs, logged between the scenario's steps; some look like audit events. */
const OTHERS: [tag: string, message: string][] = [
  ["other", "hello from another program"],
  ["other", " vm,mallory,127.0.0.1,99,0,CONNECT,,,0"],
  ["mysqld", "vm,mallory,127.0.0.1,98,0,CONNECT,,,0"],
  ["cron[4242]", "(root) CMD (conntracker)"],
];

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until none of rsyslogd's files grows for half a second. */
async function settled(r: Rsyslog): Promise<void> {
  const sizes = () =>
    Object.values(r.files).map((f) => {
      try {
        return Deno.statSync(f).size;
      } catch {
        return -1;
      }
    }).join(",");
  let last = sizes();
  for (let i = 0; i < 60; i++) {
    await pause(500);
    const now = sizes();
    if (now === last) return;
    last = now;
  }
  throw new Error("rsyslogd's files keep growing");
}

/**
 * Plays the scenario through rsyslogd and keeps what it wrote in `out`.
 *
 * @example
 * ```ts
 * await captureSyslog("/tmp/capture");
 * ```
 */
export async function captureSyslog(out = join(FIXTURES, SYSLOG_CAPTURE)): Promise<void> {
  await withRsyslog({ timeZone: SERVER_TZ }, async (r) => {
    await withTempDir(async (ns) => {
      const wrap = await devLogWrap(r.socket, ns);
      const server = { events: "CONNECT,QUERY,TABLE", outputType: "syslog" as const, wrap };
      await withMariaDb(server, async (server) => {
        let other = 0;
        const others = async () => {
          const [tag, message] = OTHERS[other++ % OTHERS.length];
          await logger(r.socket, tag, message);
        };
        await others();
        const attempts = await playScenario(server, {
          rotate: async () => {
            await others();
            await settled(r);
            for (const format of ["rfc3339", "traditional"] as const) {
              await logrotate(r, r.files[format]!, ROTATION[format]);
            }
            await others();
          },
        });
        await others();
        // The server writes a DISCONNECT after the client has gone.
        await pause(500);
        const users = await rootSql(server, "SELECT User, Host FROM mysql.user");
        await settled(r);
        await Deno.remove(out, { recursive: true }).catch(() => {});
        const files: Record<string, { name: string; mtime_ms: number }[]> = {};
        for (const format of Object.keys(r.files) as SyslogFormat[]) {
          const from = join(r.dir, format);
          await Deno.mkdir(join(out, format), { recursive: true });
          const kept = [];
          for (const entry of Deno.readDirSync(from)) {
            const mtime = Deno.statSync(join(from, entry.name)).mtime!;
            await Deno.copyFile(join(from, entry.name), join(out, format, entry.name));
            await Deno.utime(join(out, format, entry.name), mtime, mtime);
            kept.push({ name: entry.name, mtime_ms: mtime.getTime() });
          }
          // Oldest first: by modification time, then the higher rotation number first.
          kept.sort((a, b) => a.mtime_ms - b.mtime_ms || b.name.localeCompare(a.name));
          files[format] = kept;
        }
        await Deno.writeTextFile(
          join(out, "mysql_user.tsv"),
          users.map((row) => row.join("\t") + "\n").join(""),
        );
        const manifest = {
          server: server.version,
          time_zone: `${SERVER_TZ} (TZ of the server and of rsyslogd)`,
          audit_options:
            "server_audit_output_type=syslog (ident mysql-server_auditing, facility LOG_USER, " +
            "priority LOG_INFO); server_audit_events=CONNECT,QUERY,TABLE; --skip-name-resolve; " +
            "rsyslogd writing user.* with RSYSLOG_FileFormat (rfc3339/) and " +
            "RSYSLOG_TraditionalFileFormat (traditional/); logrotate where the plugin rotates: " +
            "rfc3339 create + postrotate HUP, compress, delaycompress; traditional copytruncate",
          made_by: "deno task capture syslog (tests/capture_syslog.ts, scenario in " +
            "tests/scenario.ts, as the file-mode capture mariadb-10.11-e2e)",
          other_programs: OTHERS.map(([tag, message]) => `${tag}: ${message}`),
          files_oldest_first: files,
          attempts: attempts.map((a) => ({
            ...a,
            before_iso: new Date(a.before).toISOString(),
            after_iso: new Date(a.after).toISOString(),
          })),
        };
        await Deno.writeTextFile(
          join(out, "manifest.json"),
          JSON.stringify(manifest, null, 1) + "\n",
        );
        console.log(`captured ${attempts.length} attempts through rsyslogd in ${out}`);
      });
    });
  });
}
