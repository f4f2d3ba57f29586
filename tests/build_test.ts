/**
 * What `deno task build` puts into the binary, checked without Deno's runtime download: the
 * build task runs as it is written in deno.json, with `DENORT_BIN` pointing at a stand-in
 * base binary, and the result's embedded metadata (permissions, V8 flags) and file system are
 * read back and compared with the module graph (`deno info --json`) of main.ts and of every
 * Worker module found in lib/. Then main.ts runs under exactly the build task's permissions,
 * `check` and `report --accounts-from-server` included (against a real server).
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import {
  copyAuditFiles,
  countsByAccount,
  FILES_10_11,
  FIXTURES,
  ROOT,
  withTempDir,
  writeConfig,
} from "./helpers.ts";
import { client, HAVE_MARIADB, rootSql, withMariaDb } from "./mariadb.ts";
import { referenceCounts } from "./reference.ts";
import { permissionFlags, runAsBuilt, taskWords } from "./as_built.ts";

const CI = Boolean(Deno.env.get("CI"));

/** The build task without its output: `deno compile FLAGS... main.ts`. */
function buildWords(output: string, drop: (w: string, next?: string) => boolean = () => false) {
  const words = taskWords("build");
  assertEquals(words.slice(0, 2), ["deno", "compile"], "the build task runs deno compile");
  const out: string[] = [];
  for (let i = 2; i < words.length; i++) {
    if (words[i] === "--output" || words[i] === "-o" || drop(words[i], words[i + 1])) {
      i++;
    } else if (!words[i].startsWith("--output=") && !words[i].startsWith("-o=")) {
      out.push(words[i]);
    }
  }
  return ["compile", "--output", output, ...out];
}

/** What `deno compile` embedded: its metadata and the paths of its files. */
interface Embedded {
  metadata: {
    permissions: Record<string, unknown>;
    v8_flags: string[];
    entrypoint_key: string;
  };
  files: Set<string>;
}

const MAGIC = "d3n0l4nd";

/**
 * Reads the data section `deno compile` appends (Deno 2.9): after its magic, a
 * little-endian u64 length and the metadata JSON; further on, the length and JSON of the
 * virtual file system (`[{"Dir": ...}, {"File": ...}]`).
 */
function readEmbedded(bytes: Uint8Array): Embedded {
  const text = new TextDecoder("latin1").decode(bytes);
  const at = text.indexOf(MAGIC + MAGIC);
  assert(at >= 0, "no deno compile data section found (has Deno's format changed?)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const block = (start: number) => {
    const length = Number(view.getBigUint64(start - 8, true));
    return text.slice(start, start + length);
  };
  const metaStart = at + 2 * MAGIC.length + 8;
  const metadata = JSON.parse(block(metaStart));
  let vfs: unknown;
  for (
    let i = text.indexOf('[{"', metaStart);
    i >= 0 && vfs === undefined;
    i = text.indexOf('[{"', i + 1)
  ) {
    try {
      vfs = JSON.parse(block(i));
    } catch {
      // Not the length-prefixed JSON array; look further.
    }
  }
  assert(Array.isArray(vfs), "no embedded file system found after the metadata");
  const files = new Set<string>();
  const walk = (entries: Record<string, { n: string; e?: unknown[] }>[], prefix: string) => {
    for (const entry of entries) {
      const [kind, value] = Object.entries(entry)[0];
      if (kind === "Dir") walk(value.e as typeof entries, `${prefix}${value.n}/`);
      else files.add(`${prefix}${value.n}`);
    }
  };
  walk(vfs as Parameters<typeof walk>[0], "");
  return { metadata, files };
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** Runs the build task (`drop` leaves words out) with a stand-in runtime and reads the result. */
async function compile(dir: string, drop?: (w: string, next?: string) => boolean) {
  // Any executable serves as the base: deno compile appends its data section to it. The
  // real base, denort, is what the build downloads (dl.deno.land) unless DENORT_BIN is set.
  const base = join(dir, "denort-stand-in");
  await Deno.copyFile("/usr/bin/true", base);
  const output = join(dir, "conntracker");
  const r = await run(Deno.execPath(), buildWords(output, drop), {
    DENORT_BIN: base,
    NO_COLOR: "1",
  });
  assertEquals(r.code, 0, `deno compile failed:\n${r.stderr}`);
  return readEmbedded(await Deno.readFile(output));
}

/** The Worker modules of lib/: every `new URL("...", import.meta.url)` in a file that starts a Worker. */
async function workerModules(): Promise<string[]> {
  const out: string[] = [];
  const scan = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) await scan(path);
      if (!e.isFile || !/\.[jt]s$/.test(e.name)) continue;
      const source = await Deno.readTextFile(path);
      if (!source.includes("new Worker(")) continue;
      const urls = [
        ...source.matchAll(/new URL\(\s*["'`]([^"'`]+)["'`]\s*,\s*import\.meta\.url\s*\)/g),
      ];
      assert(urls.length > 0, `${path} starts a Worker but names no module with new URL(...)`);
      for (const [, url] of urls) out.push(join(dirname(path), url));
    }
  };
  await scan(join(ROOT, "lib"));
  return out;
}

const NPM_DIR = ".deno_compile_node_modules/localhost/";

/** The npm packages (`name/version`) that embedded files belong to. */
function embeddedPackages(files: Set<string>): string[] {
  const packages = new Set<string>();
  for (const f of files) {
    if (!f.startsWith(NPM_DIR)) continue;
    const parts = f.slice(NPM_DIR.length).split("/");
    packages.add(parts.slice(0, parts[0].startsWith("@") ? 3 : 2).join("/"));
  }
  return [...packages].sort();
}

/**
 * What `deno compile` must embed for `roots`: the local modules, and the npm packages they
 * import (with their dependencies) as `name/version`, each with every file of the package.
 */
async function moduleGraph(roots: string[]): Promise<{ files: string[]; packages: string[] }> {
  const files = new Set<string>();
  const packages = new Set<string>();
  for (const root of roots) {
    const r = await run(Deno.execPath(), ["info", "--json", root]);
    assertEquals(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    const reached = new Set<string>();
    const reach = (id: string) => {
      if (reached.has(id)) return;
      reached.add(id);
      for (const dep of info.npmPackages[id].dependencies) reach(dep);
    };
    for (const m of info.modules) {
      if (m.specifier.startsWith("file:")) files.add(relative(ROOT, fileURLToPath(m.specifier)));
      if (m.kind === "npm") reach(m.npmPackage);
    }
    for (const id of reached) {
      const { name, version, localPath } = info.npmPackages[id];
      packages.add(`${name}/${version}`);
      const walk = async (dir: string) => {
        for await (const e of Deno.readDir(dir)) {
          const path = join(dir, e.name);
          if (e.isDirectory) await walk(path);
          else if (e.isFile) files.add(`${NPM_DIR}${name}/${version}/${relative(localPath, path)}`);
        }
      };
      await walk(localPath);
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}

Deno.test("build: deno compile embeds every module main.ts and its Worker modules reach", async () => {
  await withTempDir(async (dir) => {
    const workers = await workerModules();
    assert(workers.length > 0, "lib/ starts no Worker: nothing to --include?");
    const graph = await moduleGraph([join(ROOT, "main.ts"), ...workers]);
    for (const w of workers) assert(graph.files.includes(relative(ROOT, w)));
    const embedded = await compile(dir);
    assertEquals(embedded.metadata.entrypoint_key, "main.ts");
    assertEquals(graph.files.filter((f) => !embedded.files.has(f)), [], "modules not embedded");
  });
});

Deno.test("build: deno compile embeds no npm package the program does not import", async () => {
  await withTempDir(async (dir) => {
    const workers = await workerModules();
    const graph = await moduleGraph([join(ROOT, "main.ts"), ...workers]);
    const embedded = embeddedPackages((await compile(dir)).files);
    // Without --exclude-unused-npm, Deno embeds every package of deno.lock (test-only ones too).
    assertEquals(
      embedded.filter((p) => !graph.packages.includes(p)),
      [],
      "embedded, never imported",
    );
  });
});

Deno.test("build: without --include the Worker module is not embedded (the flag matters)", async () => {
  await withTempDir(async (dir) => {
    const workers = (await workerModules()).map((w) => relative(ROOT, w));
    const embedded = await compile(dir, (w) => w === "--include");
    assert(embedded.files.has("main.ts"));
    assertEquals(workers.filter((w) => embedded.files.has(w)), []);
  });
});

Deno.test("build: the binary's permissions and V8 flags are exactly the build task's", async () => {
  await withTempDir(async (dir) => {
    const { metadata } = await compile(dir);
    const flags = permissionFlags(taskWords("build"));
    const all = flags.includes("-A") || flags.includes("--allow-all");
    const granted = (kind: string) => {
      const flag = flags.find((f) => f === `--allow-${kind}` || f.startsWith(`--allow-${kind}=`));
      if (all || flag === "--allow-" + kind) return [];
      return flag === undefined ? null : flag.slice(flag.indexOf("=") + 1).split(",");
    };
    for (const kind of ["env", "net", "ffi", "read", "run", "sys", "write"]) {
      assertEquals(metadata.permissions[`allow_${kind}`], granted(kind), `allow_${kind}`);
    }
    const v8 = flags.filter((f) => f.startsWith("--v8-flags="))
      .flatMap((f) => f.slice("--v8-flags=".length).split(","));
    assert(v8.length > 0, "the build task sets V8 flags (the README documents them)");
    assertEquals(v8.filter((f) => !metadata.v8_flags.includes(f)), []);
  });
});

Deno.test("build: the start task runs main.ts with exactly the build task's permissions", () => {
  const start = taskWords("start");
  assertEquals(start.slice(0, 2), ["deno", "run"]);
  assertEquals(start[start.length - 1], "main.ts");
  assertEquals(permissionFlags(start).sort(), permissionFlags(taskWords("build")).sort());
});

/** The first real capture in `dir/logs`, and a config that reads it into `dir/audit.sqlite`. */
async function captureIn(dir: string): Promise<{ logs: string; config: string }> {
  const logs = join(dir, "logs");
  await Deno.mkdir(logs);
  await copyAuditFiles("mariadb-10.11", FILES_10_11, logs);
  return { logs, config: await writeConfig(dir, { AuditLogPath: logs }) };
}

Deno.test("build: under the build task's permissions a run over a real capture and a report succeed", async () => {
  await withTempDir(async (dir) => {
    const { logs, config } = await captureIn(dir);
    const r = await runAsBuilt(["--config", config]);
    assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
    const text = FILES_10_11.map((f) => Deno.readTextFileSync(join(logs, f))).join("");
    assertEquals(await countsByAccount(join(dir, "audit.sqlite")), referenceCounts(text));

    const accounts = join(FIXTURES, "mariadb-10.11-e2e", "mysql_user.tsv");
    const report = await runAsBuilt(["--config", config, "report", "--accounts", accounts]);
    assertEquals([report.code, report.stderr], [0, ""]);
    const defined = Deno.readTextFileSync(accounts).split("\n")
      .filter((l) => l && l.split("\t")[1] !== "");
    assertEquals(JSON.parse(report.stdout).accounts.length, defined.length, "one row per account");
  });
});

if (!HAVE_MARIADB && !CI) {
  console.error(
    "\n*** SKIPPING check and report --accounts-from-server under the build task's permissions: " +
      "mariadbd not found (apt-get install mariadb-server mariadb-client) ***\n",
  );
}

Deno.test({
  name: "build: under the build task's permissions check and report --accounts-from-server work",
  ignore: !HAVE_MARIADB && !CI,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await withTempDir(async (dir) => {
      await withMariaDb({ events: "CONNECT" }, async (server) => {
        await rootSql(server, "CREATE USER 'probe'@'localhost' IDENTIFIED BY 'pw'");
        const probe = await client(["-S", server.socket, "-uprobe", "-ppw", "-e", "SELECT 1"]);
        assert(probe.ok, "the probe login failed");
        const cnf = join(dir, "client.cnf");
        await Deno.writeTextFile(cnf, `[client]\nsocket = ${server.socket}\nuser = root\n`);
        const config = await writeConfig(dir, {
          AuditLogPath: dirname(server.auditLog),
          MariadbDefaultsFile: cnf,
        });
        const r = await runAsBuilt(["--config", config]);
        assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);

        // Every family of findings, the server's answers included: none may die on a permission.
        const check = await runAsBuilt(["--config", config, "check", "--format", "json"]);
        assert(check.code === 0 || check.code === 5, check.stderr);
        assertEquals(check.stderr, "");
        const findings = JSON.parse(check.stdout) as { check: string; message: string }[];
        const checks = new Set(findings.map((f) => f.check));
        for (const c of ["plugin", "files", "zone", "database", "last-run", "schedule"]) {
          assert(checks.has(c), `no ${c} finding:\n${check.stdout}`);
        }
        assert(
          findings.some((f) => f.check === "files" && /\(uid \d+\) can read all/.test(f.message)),
          check.stdout,
        );

        const report = await runAsBuilt(["--config", config, "report", "--accounts-from-server"]);
        assertEquals([report.code, report.stderr], [0, ""]);
        const rows = JSON.parse(report.stdout).accounts as { name: string; status: string }[];
        assertEquals(rows.find((a) => a.name === "probe")?.status, "used", report.stdout);
      });
    });
  },
});

Deno.test("build: under the build task's permissions a run of 128 MB scans in a Worker", async () => {
  await withTempDir(async (dir) => {
    // One file over the documented 128 MB threshold, so that the run cuts it into ranges for
    // a Worker (MaxWorkers 2, and 4 cores said: on 2 a run keeps to one thread).
    const one = FILES_10_11.map((f) => Deno.readTextFileSync(join(FIXTURES, "mariadb-10.11", f)))
      .join("");
    const copies = Math.ceil((130 << 20) / one.length);
    const big = one.repeat(copies);
    const logs = join(dir, "logs");
    await Deno.mkdir(logs);
    await Deno.writeTextFile(join(logs, "server_audit.log"), big);
    const config = await writeConfig(dir, { AuditLogPath: logs, MaxWorkers: "2" });
    // The control: with its module unreadable, the Worker fails and so does the run. This
    // shows that the run below does scan in a Worker.
    const [worker] = await workerModules();
    const env = { CONNTRACKER_CORES: "4" };
    const denied = await runAsBuilt(["--config", config], {
      extra: [`--deny-read=${worker}`],
      env,
    });
    assertEquals(denied.code, 1, denied.stderr);
    assert(denied.stderr.includes("Scanning worker failed"), denied.stderr);

    const r = await runAsBuilt(["--config", config], { env });
    assertEquals([r.code, r.stdout, r.stderr], [0, "", ""]);
    assertEquals(await countsByAccount(join(dir, "audit.sqlite")), referenceCounts(big));
  });
});

Deno.test("deno task start prints nothing on a successful run (only Deno's own Task line)", async () => {
  await withTempDir(async (dir) => {
    const { config } = await captureIn(dir);
    const quiet = await run(Deno.execPath(), ["task", "--quiet", "start", "--config", config]);
    assertEquals([quiet.code, quiet.stdout, quiet.stderr], [0, "", ""]);
    // Without --quiet, `deno task` itself echoes the task; nothing else may be printed.
    const plain = await run(Deno.execPath(), ["task", "start", "--config", config], {
      NO_COLOR: "1",
    });
    assertEquals([plain.code, plain.stdout], [0, ""]);
    assertEquals(plain.stderr.trim().split("\n").length, 1, plain.stderr);
    assert(plain.stderr.startsWith("Task start deno run "), plain.stderr);
  });
});

Deno.test("the start task's deno run is --quiet: a first run on a cold cache prints no Download lines", () => {
  const start = taskWords("start");
  assert(
    start.includes("--quiet") || start.includes("-q"),
    `"deno run" in the start task needs --quiet: ${start.join(" ")}`,
  );
});
