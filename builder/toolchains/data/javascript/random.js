// Math.random for JavaScript and TypeScript functions. entry.js imports this module
// before the function's, so it is in place before any of the function's code runs: a
// reference the function takes at its top level (`const rnd = Math.random`, a library
// keeping it for later) is this one too.
//
// QuickJS seeds its own generator once, when the engine starts: at build time, so the
// seed is in the snapshot and every call of every instance would draw the same numbers.
// While a call runs (`calls.serving`, set by entry.js), numbers come from the host's
// random source instead: 53 of 56 random bits over 2^53, as V8 makes a double in [0, 1).
// At build time (module top levels), QuickJS's own generator draws them.
import randomApi from "wasi:random/random@0.2.0";

export const calls = { serving: false };

const buildTimeRandom = Math.random;

function hostRandom() {
  const b = randomApi.getRandomBytes(7);
  const high = (b[0] & 0x1f) * 2 ** 48 + b[1] * 2 ** 40 + b[2] * 2 ** 32;
  return (high + b[3] * 2 ** 24 + b[4] * 2 ** 16 + b[5] * 2 ** 8 + b[6]) / 2 ** 53;
}

Math.random = function random() {
  return calls.serving ? hostRandom() : buildTimeRandom();
};
