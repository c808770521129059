// A warm AssemblyScript compiler: one Node process compiles job after job.
// Protocol: one JSON request per stdin line {source, transform}; one JSON reply per
// stdout line {ok, wasm (base64) | error}. Nothing else is written to stdout.
import asc from "assemblyscript/asc";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";

const ENTRY = "function.ts";
const entryPath = resolve(ENTRY);
const root = resolve(".") + "/"; // sources may import packages installed here, nothing else

async function compile(request) {
  const outputs = {};
  let diagnostics = "";
  const args = [
    ENTRY, "-o", "function.wasm",
    "--exportRuntime", "--runtime", "incremental", "-O2", "--noColors",
  ];
  if (request.transform) args.push("--transform", "json-as/transform");
  const { error } = await asc.main(args, {
    readFile(name, baseDir) {
      const path = resolve(baseDir, name);
      if (path === entryPath) return request.source;
      if (!path.startsWith(root)) return null;
      try { return readFileSync(path, "utf8"); } catch { return null; }
    },
    writeFile(name, contents) { outputs[name] = contents; },
    listFiles() { return []; },
    stdout: { write() {} },
    stderr: { write(text) { if (diagnostics.length < 65536) diagnostics += text; } },
  });
  const wasm = outputs["function.wasm"];
  if (error || !wasm) {
    return { ok: false, error: diagnostics || String(error) };
  }
  return { ok: true, wasm: Buffer.from(wasm).toString("base64") };
}

// asc reports its own crashes (a stack overflow on a source that instantiates generics
// without end, an assertion) on the console and calls process.exit(1). During a compile
// that exit is turned into a reply {ok: false, crash}: the source crashes asc every time,
// so the build fails at once and this warm process goes on serving the next builds.
class CompilerExit extends Error {}
const exit = process.exit;
const consoleError = console.error;

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  let reply;
  let report = "";
  process.exit = (code) => { throw new CompilerExit(`exit code ${code}`); };
  console.error = (...args) => { if (report.length < 65536) report += args.join(" ") + "\n"; };
  try {
    reply = await compile(JSON.parse(line));
  } catch (err) {
    if (err instanceof CompilerExit) {
      const cause = /\b((?:[A-Z]\w*)?Error: [^\n]{0,200})/.exec(report);
      const what = cause ? `${err.message}: ${cause[1]}` : err.message;
      reply = { ok: false, crash: `the compiler crashed on this source (${what})` };
    } else {
      reply = { ok: false, error: `compiler error: ${err && err.message ? err.message : err}` };
    }
  } finally {
    process.exit = exit;
    console.error = consoleError;
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
