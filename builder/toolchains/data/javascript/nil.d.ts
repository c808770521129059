// Types every TypeScript function sees (no import needed). The event is the execution's
// input: a JSON object. handle may return any JSON value.
type NilJson = null | boolean | number | string | NilJson[] | { [key: string]: NilJson };
type NilEvent = { [key: string]: NilJson };

// The platform's console: each call is one line of the execution's logs
// (log, info, debug and trace to stdout; warn and error to stderr).
declare const console: {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  debug(...data: unknown[]): void;
  trace(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
};
