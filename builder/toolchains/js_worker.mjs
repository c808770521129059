// A warm JavaScript/TypeScript compiler: one Node process builds job after job.
// Protocol: one JSON request per stdin line {source, language}; one JSON reply per stdout
// line {ok, wasm (base64) | error}. Nothing else is written to stdout.
//
// TypeScript is type-checked first (the pinned `typescript`, a strict configuration, an
// in-memory compiler host that serves only the function, Nil's ambient types and the
// standard library declarations) and emitted as ES2022 with a source map. Then
// componentize-qjs builds the component: QuickJS runs Nil's entry module, which imports
// the function, and the initialised engine is snapshotted. The job's files live in
// `<scratch>/job`, the only directory this process may write (the sandbox's rule); it is
// emptied before every build and is the only root modules are resolved under.
import { componentize } from "componentize-qjs";
import ts from "typescript";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const DATA = join(HERE, "data", "javascript");
const WIT = join(DATA, "wit");
const ENTRY = readFileSync(join(DATA, "entry.js"), "utf8");
const RANDOM = readFileSync(join(DATA, "random.js"), "utf8");
const NIL_TYPES = readFileSync(join(DATA, "nil.d.ts"), "utf8");
const TS_LIB_DIR = dirname(createRequire(import.meta.url).resolve("typescript/lib/lib.d.ts"));
const scratch = process.argv[2];
const job = join(scratch, "job");
const MAX_ERROR = 16 * 1024;

// ---- TypeScript ------------------------------------------------------------------------
const VIRTUAL = "/function";
const TS_FILE = `${VIRTUAL}/function.ts`;
const TYPES_FILE = `${VIRTUAL}/nil.d.ts`;
const TS_OPTIONS = {
  strict: true,
  noImplicitReturns: true,
  noFallthroughCasesInSwitch: true,
  noImplicitOverride: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ES2022,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ["lib.es2022.d.ts"],
  types: [],
  sourceMap: true,
  noEmitOnError: true,
  newLine: ts.NewLineKind.LineFeed,
};
const libFiles = new Map(); // the standard library's declarations, parsed once per process

function tsHost(source, emitted) {
  const files = new Map([[TS_FILE, source], [TYPES_FILE, NIL_TYPES]]);
  const isLib = (name) => name.startsWith(TS_LIB_DIR + "/") && !name.includes("..");
  const read = (name) => {
    if (files.has(name)) return files.get(name);
    if (!isLib(name)) return undefined;
    try { return readFileSync(name, "utf8"); } catch { return undefined; }
  };
  return {
    getSourceFile(name, version) {
      if (files.has(name)) return ts.createSourceFile(name, files.get(name), version, true);
      if (!libFiles.has(name)) {
        const text = read(name);
        if (text === undefined) return undefined;
        libFiles.set(name, ts.createSourceFile(name, text, version, false));
      }
      return libFiles.get(name);
    },
    getDefaultLibFileName: (options) => join(TS_LIB_DIR, ts.getDefaultLibFileName(options)),
    getDefaultLibLocation: () => TS_LIB_DIR,
    writeFile: (name, text) => { emitted[name.slice(name.lastIndexOf("/") + 1)] = text; },
    getCurrentDirectory: () => VIRTUAL,
    getDirectories: () => [],
    fileExists: (name) => files.has(name) || (isLib(name) && existsSync(name)),
    readFile: read,
    getCanonicalFileName: (name) => name,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => "\n",
  };
}

function formatDiagnostic(d) {
  const text = ts.flattenDiagnosticMessageText(d.messageText, "\n");
  if (!d.file || d.start === undefined) return `error TS${d.code}: ${text}`;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  const name = d.file.fileName.slice(d.file.fileName.lastIndexOf("/") + 1);
  return `${name}:${line + 1}:${character + 1}: error TS${d.code}: ${text}`;
}

function typescript(source) {
  const emitted = {};
  const program = ts.createProgram({
    rootNames: [TS_FILE, TYPES_FILE],
    options: TS_OPTIONS,
    host: tsHost(source, emitted),
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  if (diagnostics.length > 0) {
    return { error: diagnostics.slice(0, 20).map(formatDiagnostic).join("\n") };
  }
  const result = program.emit(program.getSourceFile(TS_FILE));
  if (result.emitSkipped || !emitted["function.js"]) return { error: "TypeScript emitted nothing" };
  const map = JSON.parse(emitted["function.js.map"]);
  const js = emitted["function.js"].replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n");
  return { js, lines: decodeMappings(map.mappings) };
}

// A source map's mappings as [generatedColumn, sourceLine, sourceColumn] per generated
// line (all 0-based): what the entry module needs to show function.ts positions.
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
function decodeMappings(mappings) {
  const lines = [];
  let sourceLine = 0;
  let sourceColumn = 0;
  for (const text of mappings.split(";")) {
    const segments = [];
    let column = 0;
    for (const segment of text.split(",")) {
      if (!segment) continue;
      const values = [];
      let value = 0;
      let shift = 0;
      for (const ch of segment) {
        const digit = B64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) {
          shift += 5;
        } else {
          values.push(value & 1 ? -(value >> 1) : value >> 1);
          value = 0;
          shift = 0;
        }
      }
      column += values[0];
      if (values.length >= 4) {
        sourceLine += values[2];
        sourceColumn += values[3];
        segments.push([column, sourceLine, sourceColumn]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

function mapPosition(lines, line, column) {
  const segments = lines[line - 1];
  if (!segments || segments.length === 0) return null;
  let best = segments[0];
  for (const segment of segments) if (segment[0] <= column - 1) best = segment;
  return `${best[1] + 1}:${best[2] + 1}`;
}

// ---- the component ---------------------------------------------------------------------
// What componentize-qjs reports, as `function.js:line:col: message` (function.ts for
// TypeScript, its positions mapped back), without the tool's own prefixes and paths.
function buildError(err, sourceName, lines) {
  let text = String((err && err.message) || err).replace(/^[:\s]+/, "");
  text = text.replace(/^(?:Failed to [^:]*: )+/, "");
  text = text.split(job + "/").join("").split(job).join(".");
  const [first, ...rest] = text.split("\n");
  const at = text.match(/\/function\.js:(\d+):(\d+)/);
  let where = null;
  if (at) {
    const mapped = lines ? mapPosition(lines, Number(at[1]), Number(at[2])) : `${at[1]}:${at[2]}`;
    where = mapped ? `${sourceName}:${mapped}` : sourceName;
  }
  const frames = rest.filter((line) => line.trim() && !/^\s*at /.test(line));
  const message = first.replace(/^Error: /, "").trim();
  return [where ? `${where}: ${message}` : message, ...frames].join("\n").slice(0, MAX_ERROR);
}

async function compile(request) {
  const typed = request.language === "typescript";
  const sourceName = typed ? "function.ts" : "function.js";
  let js = request.source;
  let lines = null;
  if (typed) {
    const checked = typescript(request.source);
    if (checked.error) return { ok: false, error: checked.error.slice(0, MAX_ERROR) };
    ({ js, lines } = checked);
  }
  rmSync(job, { recursive: true, force: true });
  mkdirSync(job, { recursive: true });
  try {
    writeFileSync(join(job, "function.js"), js);
    writeFileSync(
      join(job, "positions.js"),
      `export const SOURCE = ${JSON.stringify(sourceName)};\n` +
        `export const LINES = ${JSON.stringify(lines || [])};\n`,
    );
    writeFileSync(join(job, "entry.js"), ENTRY);
    writeFileSync(join(job, "random.js"), RANDOM);
    let result;
    try {
      result = await componentize({
        witPath: WIT,
        world: "nil-javascript",
        jsSource: ENTRY,
        jsPath: join(job, "entry.js"),
        moduleRoot: job,
        sync: true,
      });
    } catch (err) {
      return { ok: false, error: buildError(err, sourceName, lines) };
    }
    return { ok: true, wasm: Buffer.from(result.component).toString("base64") };
  } finally {
    rmSync(job, { recursive: true, force: true });
  }
}

const input = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of input) {
  let reply;
  try {
    reply = await compile(JSON.parse(line));
  } catch (err) {
    reply = { ok: false, error: `compiler error: ${err && err.message ? err.message : err}` };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
}
