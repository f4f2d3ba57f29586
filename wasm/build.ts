/**
 * `deno task wasm`: builds the line scanner (`wasm/scanner.ts`, AssemblyScript) and writes
 * it, as bytes, into `lib/format/scanner_wasm.ts`, so that `deno compile` needs no extra
 * file. Needs the npm registry (AssemblyScript's compiler); the output is committed.
 *
 * @module
 */

import asc from "assemblyscript/asc";

const here = new URL(".", import.meta.url).pathname;
const out = new URL("../lib/format/scanner_wasm.ts", import.meta.url).pathname;
const wasm = `${await Deno.makeTempDir()}/scanner.wasm`;
const { error, stderr } = await asc.main([
  `${here}scanner.ts`,
  "-O3",
  "--runtime",
  "stub",
  "--noAssert",
  "--enable",
  "simd",
  "--initialMemory",
  "72",
  "--maximumMemory",
  "72",
  "-o",
  wasm,
]);
if (error) {
  console.error(stderr.toString());
  Deno.exit(1);
}
const bytes = await Deno.readFile(wasm);
let base64 = "";
const text = btoa(String.fromCharCode(...bytes));
for (let i = 0; i < text.length; i += 96) base64 += `  "${text.slice(i, i + 96)}" +\n`;
await Deno.writeTextFile(
  out,
  `/**
 * The line scanner as WebAssembly: built from \`wasm/scanner.ts\` by \`deno task wasm\`
 * (do not edit).
 *
 * @module
 */

/** The module's bytes, base64. */
export const SCANNER_WASM: string =
${base64.slice(0, -3)};
`,
);
console.log(`${out}: ${bytes.length} bytes of WebAssembly`);
