/**
 * logrotate configurations that cover the audit log. Renaming the live file
 * without making the plugin reopen it is a trap: the plugin keeps writing the
 * renamed file, and with `compress` (and no `delaycompress` and
 * `notifempty`) that file is compressed and deleted while the plugin still
 * writes it. `copytruncate`, or a `postrotate` that sets
 * `server_audit_logging` OFF and ON, are safe.
 *
 * @module
 */

import { join } from "node:path";
import { globSegment } from "../input/discover.ts";
import { type Finding, finding } from "./finding.ts";

/** One `path … { … }` block, with the global options in force before it. */
export interface RotateBlock {
  /** The file it came from, and its line. */
  file: string;
  line: number;
  patterns: string[];
  /** Directives (first word, lower case) in force: global ones, then the block's own. */
  directives: Set<string>;
  /** The `postrotate` script, if any. */
  postrotate?: string;
}

/** Names logrotate skips in an included folder (its `tabooext` defaults, and dotfiles). */
const TABOO = /(^\.|\.dpkg-[a-z]+$|\.rpm(orig|save|new)$|,v$|\.swp$|~$|\.cfsaved$|\.disabled$)/;

/** Directives that cancel others. */
const OPPOSITES: Record<string, string> = {
  nocompress: "compress",
  compress: "nocompress",
  nodelaycompress: "delaycompress",
  delaycompress: "nodelaycompress",
  nocopytruncate: "copytruncate",
  copytruncate: "nocopytruncate",
  ifempty: "notifempty",
  notifempty: "ifempty",
  nocreate: "create",
  create: "nocreate",
};

function setDirective(directives: Set<string>, word: string): void {
  const opposite = OPPOSITES[word];
  if (opposite) directives.delete(opposite);
  directives.add(word);
}

function unquote(word: string): string {
  return /^(["']).*\1$/.test(word) ? word.slice(1, -1) : word;
}

/**
 * Parses one logrotate configuration text: its blocks (global directives
 * before a block apply to it) and its `include`s.
 *
 * @example
 * ```ts
 * const { blocks } = parseLogrotate("a.conf", "compress\n/var/log/x.log {\n  daily\n}\n", new Set());
 * blocks[0].directives.has("compress"); // true
 * ```
 */
export function parseLogrotate(
  file: string,
  text: string,
  globals: Set<string>,
): { blocks: RotateBlock[]; includes: string[] } {
  const blocks: RotateBlock[] = [];
  const includes: string[] = [];
  let block: RotateBlock | undefined;
  let script: { name: string; lines: string[] } | undefined;
  const lines = text.split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (script) {
      if (/^endscript\b/.test(line)) {
        if (script.name === "postrotate" && block) block.postrotate = script.lines.join("\n");
        script = undefined;
      } else script.lines.push(line);
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    if (line.endsWith("{")) {
      const patterns = line.slice(0, -1).trim().match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
      block = {
        file,
        line: i + 1,
        patterns: patterns.map(unquote),
        directives: new Set(globals),
      };
      blocks.push(block);
      continue;
    }
    if (line === "}") {
      block = undefined;
      continue;
    }
    const [word, ...rest] = line.split(/\s+/);
    const directive = word.toLowerCase();
    if (["postrotate", "prerotate", "firstaction", "lastaction", "preremove"].includes(directive)) {
      script = { name: directive, lines: [] };
      continue;
    }
    if (!block && directive === "include") {
      includes.push(rest.join(" "));
      continue;
    }
    setDirective(block ? block.directives : globals, directive);
  }
  return { blocks, includes };
}

/** Where to look; tests point `root` at a temp dir. */
export interface LogrotateOptions {
  /** Prefixed to every system path (default `/`). */
  root?: string;
}

/**
 * Reads `/etc/logrotate.conf`, what it includes, and `/etc/logrotate.d/*`,
 * into blocks.
 *
 * @example
 * ```ts
 * const blocks = await readLogrotate({ root: "/" });
 * ```
 */
export async function readLogrotate(options: LogrotateOptions = {}): Promise<RotateBlock[]> {
  const root = options.root ?? "/";
  const globals = new Set<string>();
  const blocks: RotateBlock[] = [];
  const done = new Set<string>();
  const visit = async (path: string): Promise<void> => {
    if (done.has(path)) return;
    done.add(path);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(join(root, path));
    } catch {
      return;
    }
    if (info.isDirectory) {
      const names: string[] = [];
      for await (const e of Deno.readDir(join(root, path))) {
        if (e.isFile && !TABOO.test(e.name)) names.push(e.name);
      }
      for (const name of names.sort()) await visit(join(path, name));
      return;
    }
    const text = await Deno.readTextFile(join(root, path)).catch(() => "");
    const parsed = parseLogrotate(path, text, globals);
    blocks.push(...parsed.blocks);
    for (const include of parsed.includes) await visit(include);
  };
  await visit("/etc/logrotate.conf");
  await visit("/etc/logrotate.d");
  return blocks;
}

/**
 * Whether a logrotate path pattern (a glob) names `path`.
 *
 * @example
 * ```ts
 * patternMatches("/var/lib/mysql/*.log", "/var/lib/mysql/server_audit.log"); // true
 * ```
 */
function patternMatches(pattern: string, path: string): boolean {
  const p = pattern.split("/");
  const f = path.split("/");
  return p.length === f.length && p.every((seg, i) => globSegment(seg).test(f[i]));
}

/** Whether a script sets `server_audit_logging` OFF and then ON. */
function reopensPlugin(script: string | undefined): boolean {
  if (!script) return false;
  const off = script.search(/server_audit_logging\s*=\s*(OFF|0)\b/i);
  const on = script.search(/server_audit_logging\s*=\s*(ON|1)\b/i);
  return off !== -1 && on > off;
}

/**
 * The findings about the blocks that cover the audit log `livePath`.
 *
 * @example
 * ```ts
 * const blocks = await readLogrotate();
 * logrotateFindings(blocks, "/var/lib/mysql/server_audit.log", 0);
 * ```
 */
export function logrotateFindings(
  blocks: RotateBlock[],
  livePath: string,
  /** `server_audit_file_rotations`, when the server could be asked. */
  pluginRotations: number | undefined,
): Finding[] {
  const covering = blocks.filter((b) => b.patterns.some((p) => patternMatches(p, livePath)));
  if (covering.length === 0) {
    return [
      pluginRotations !== 0
        ? finding("logrotate", "ok", `No logrotate configuration covers ${livePath}`)
        : finding(
          "logrotate",
          "warn",
          `Nothing rotates ${livePath}: server_audit_file_rotations = 0 and no logrotate ` +
            "configuration covers it, so it grows without limit",
          "install contrib/logrotate.d/mariadb-audit, or set server_audit_file_rotations",
        ),
    ];
  }
  return covering.flatMap((b): Finding[] => {
    const where = `${b.file}:${b.line}`;
    const d = b.directives;
    const out: Finding[] = [];
    if (pluginRotations !== undefined && pluginRotations > 0) {
      out.push(
        finding(
          "logrotate",
          "warn",
          `${where} rotates ${livePath}, which the plugin rotates too ` +
            `(server_audit_file_rotations = ${pluginRotations}): both rename the same .1, .2 files`,
          "set server_audit_file_rotations = 0, or remove the logrotate block",
        ),
      );
    }
    const fix = `add copytruncate to ${where}, or nocreate and a postrotate that runs ` +
      "SET GLOBAL server_audit_logging = OFF; SET GLOBAL server_audit_logging = ON " +
      "(contrib/logrotate.d/mariadb-audit)";
    if (d.has("copytruncate")) {
      out.push(
        finding("logrotate", "ok", `${where} rotates ${livePath} with copytruncate`),
      );
    } else if (reopensPlugin(b.postrotate)) {
      out.push(
        finding(
          "logrotate",
          "ok",
          `${where} renames ${livePath} and its postrotate sets server_audit_logging OFF and ON`,
        ),
      );
    } else if (d.has("compress") && (!d.has("delaycompress") || !d.has("notifempty"))) {
      out.push(
        finding(
          "logrotate",
          "error",
          `${where} renames ${livePath} without making the plugin reopen it, and compresses ` +
            `${d.has("delaycompress") ? "it on the next rotation (no notifempty)" : "it at once"}` +
            ": the plugin " +
            "writes into a deleted file and every later login is lost until it reopens its file",
          fix,
        ),
      );
    } else {
      out.push(
        finding(
          "logrotate",
          "error",
          `${where} renames ${livePath} without making the plugin reopen it: the plugin keeps ` +
            `writing the renamed file and ${livePath} stays empty`,
          fix,
        ),
      );
    }
    return out;
  });
}
