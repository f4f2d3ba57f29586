/**
 * TLS to the central store, against a real server whose push account
 * `REQUIRE SSL`: without TLS the push is refused; with `TlsCa` the server's
 * certificate (made here with `openssl`, for 127.0.0.1) is verified, and a
 * certificate from another CA fails; `TlsVerify = false` encrypts without
 * verifying.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert";
import { join } from "node:path";
import { loadConfig } from "../lib/config.ts";
import { pushChanges } from "../lib/push/push.ts";
import { main } from "../main.ts";
import { append, centralKeys, createServer, writeServerConfig } from "./fleet.ts";
import { startCentral } from "./galera.ts";
import { HAVE_MARIADB } from "./mariadb.ts";

const CI = Boolean(Deno.env.get("CI"));

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
}

/** A CA, and a certificate for 127.0.0.1 that it signed, in `dir`; and a second CA. */
async function certificates(dir: string): Promise<void> {
  for (const ca of ["ca", "other-ca"]) {
    await openssl([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=conntracker test ${ca}`,
    ], dir);
  }
  await openssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  ], dir);
  await Deno.writeTextFile(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
  await openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "san.ext",
  ], dir);
  // The server runs as mysql.
  for (const f of ["ca.pem", "server.pem", "server.key"]) await Deno.chmod(join(dir, f), 0o644);
  await Deno.chmod(dir, 0o755);
}

Deno.test({
  name: "push: TLS verified against TlsCa, refused for another CA, unverified when asked",
  ignore: !HAVE_MARIADB && !CI,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "conntracker-push-tls-" });
    try {
      await Deno.chmod(root, 0o711);
      const certs = join(root, "certs");
      await Deno.mkdir(certs);
      await certificates(certs);
      await using central = await startCentral({
        config: [
          `ssl_ca=${join(certs, "ca.pem")}`,
          `ssl_cert=${join(certs, "server.pem")}`,
          `ssl_key=${join(certs, "server.key")}`,
        ],
      });
      const [node] = central.nodes;
      const pusher = await central.createDatabaseUser({
        database: "fleet",
        user: "pusher",
        hosts: ["127.0.0.1"],
      });
      await central.sql(node, "ALTER USER 'pusher'@'127.0.0.1' REQUIRE SSL");
      const base = { ...centralKeys(pusher, [node], "a"), PushAccounts: "false" };
      const keys = { MariadbClient: "/bin/false" };
      const a = await createServer(root, { id: "a", serverHost: "db-a", keys });
      await append(a, [{ user: "app", host: "10.0.0.1", ok: true, at: Date.now() - 60_000 }]);
      assertEquals(await main(["--config", a.config]), 0);
      const push = async (tls: Record<string, string>) => {
        await writeServerConfig(a, { ...base, ...tls }, keys);
        return await pushChanges({ config: await loadConfig(a.config) });
      };

      const plain = await push({});
      assert(!plain.ok && /Access denied/.test(plain.problems[0]), plain.problems[0]);
      const other = await push({ TlsCa: join(certs, "other-ca.pem") });
      assert(!other.ok && /certificate/i.test(other.problems[0]), other.problems[0]);
      const verified = await push({ TlsCa: join(certs, "ca.pem") });
      assertEquals([verified.ok, verified.rowsSent], [true, 1], verified.problems.join("; "));
      const unverified = await push({ TlsVerify: "false" });
      assertEquals([unverified.ok, unverified.rowsSent], [true, 0]);
      const rows = await central.sql(node, "SELECT name, logins FROM fleet.activity");
      assertEquals(rows, [{ name: "app", logins: 1 }]);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
