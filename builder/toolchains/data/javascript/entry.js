// Nil's entry module for JavaScript and TypeScript functions (componentize-qjs).
//
// It exports the world's `handle(input: string) -> result<string, string>`: the input is
// decoded, the function's `handle(event)` called, and its return value JSON-serialised
// (`ok`). Anything thrown — an Error or any other value — becomes `err`: the message and
// the stack frames of the user's file only (for TypeScript, mapped back to function.ts
// through the source map the builder computed: positions.js). `console.*` writes lines
// to WASI stdout (log, info, debug) and stderr (warn, error), which the runner captures.
import stdoutApi from "wasi:cli/stdout@0.2.0";
import stderrApi from "wasi:cli/stderr@0.2.0";
import { calls } from "./random.js"; // before the function's module: Math.random
import { SOURCE, LINES } from "./positions.js";
import * as user from "./function.js";

let streams = null; // opened per call: a handle from build time does not exist at run time

function utf8(text) {
  const bytes = [];
  for (const ch of text) {
    const c = ch.codePointAt(0);
    if (c < 0x80) bytes.push(c);
    else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(bytes);
}

function show(value) {
  if (typeof value === "string") return value;
  if (value instanceof Error) return describeError(value);
  if (value === undefined || typeof value === "function" || typeof value === "symbol") {
    return String(value);
  }
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text;
  } catch {
    return String(value);
  }
}

function writer(toStderr) {
  return (...args) => {
    if (!calls.serving) return; // console output at build time (top levels) is dropped
    streams ??= { out: stdoutApi.getStdout(), err: stderrApi.getStderr() };
    const bytes = utf8(args.map(show).join(" ") + "\n");
    const stream = toStderr ? streams.err : streams.out;
    // WASI's blocking-write-and-flush takes at most 4096 bytes a call (more traps).
    for (let at = 0; at < bytes.length; at += 4096) {
      stream.blockingWriteAndFlush(bytes.slice(at, at + 4096));
    }
  };
}

globalThis.console = {
  log: writer(false),
  info: writer(false),
  debug: writer(false),
  trace: writer(false),
  warn: writer(true),
  error: writer(true),
};

// "/function.js:12:5" → the user's own position (function.js, or function.ts mapped back).
function position(line, column) {
  const segments = LINES[line - 1];
  if (SOURCE === "function.js" || !segments) return `${SOURCE}:${line}:${column}`;
  let best = segments[0];
  for (const segment of segments) if (segment[0] <= column - 1) best = segment;
  return best ? `${SOURCE}:${best[1] + 1}:${best[2] + 1}` : `${SOURCE}:${line}`;
}

function userFrames(stack) {
  const frames = [];
  for (const line of String(stack || "").split("\n")) {
    const match = line.match(/^(\s*at .*?)\(?\/function\.js:(\d+):(\d+)\)?$/);
    if (match) {
      const name = match[1].trim();
      const where = position(Number(match[2]), Number(match[3]));
      frames.push(name === "at" || name === "at <anonymous>" ? `    at ${where}` : `    ${name} (${where})`);
    }
  }
  return frames;
}

function describeError(error) {
  const head = error.message ? `${error.name}: ${error.message}` : String(error.name);
  return [head, ...userFrames(error.stack)].join("\n");
}

function describeThrown(value) {
  if (value instanceof Error) return describeError(value);
  return `Uncaught ${show(value)}`;
}

if (typeof user.handle !== "function") {
  throw new TypeError(`${SOURCE} must export a function handle(event)`); // a build error
}

export function handle(input) {
  streams = null;
  calls.serving = true;
  try {
    const result = user.handle(JSON.parse(input));
    if (result instanceof Promise) {
      throw new TypeError("handle returned a Promise: handle must be synchronous");
    }
    const output = JSON.stringify(result);
    if (output === undefined) throw new TypeError("handle returned a value JSON cannot encode");
    return output;
  } catch (error) {
    throw describeThrown(error);
  } finally {
    calls.serving = false;
  }
}
