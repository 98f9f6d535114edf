// Shared by check-preview.mjs and lighthouse.mjs: which chromium to drive, its flags, argument
// parsing and the one-line-per-check reporter.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Debian's chromium unless CHROME_PATH names another build; never a downloaded browser. */
export const chromePath = () => process.env.CHROME_PATH || "/usr/bin/chromium";

/** Flags for a closed network: no Google services, no first-run UI, no sandbox (CI runs as root). */
export const CHROME_FLAGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/** A fresh profile directory and the function that removes it. */
export async function freshProfile(prefix) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** `--name value` options and positional arguments. */
export function parseArgs(argv, known) {
  const options = {};
  const positional = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg.startsWith("--")) {
      const name = arg.slice(2);
      if (!known.includes(name)) throw new Error(`unknown option ${arg}`);
      if (i + 1 >= argv.length) throw new Error(`option ${arg} needs a value`);
      options[name] = argv[(i += 1)];
    } else {
      positional.push(arg);
    }
  }
  return { options, positional };
}

/** The JSON in a file, or on standard input for `-`. */
export async function readJson(path) {
  if (path === "-") {
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  }
  return JSON.parse(await readFile(path, "utf8"));
}

/** Prints one line per check and counts them. */
export class Reporter {
  constructor() {
    this.passed = 0;
    this.failures = [];
  }

  ok(scope, what) {
    this.passed += 1;
    console.log(`ok    ${scope} | ${what}`);
  }

  fail(scope, what, detail) {
    this.failures.push(`${scope} | ${what}: ${detail}`);
    console.log(`FAIL  ${scope} | ${what}: ${detail}`);
  }

  note(scope, what) {
    console.log(`note  ${scope} | ${what}`);
  }

  /** `ok` when `detail` is empty, else `fail`; returns whether it passed. */
  check(scope, what, detail) {
    if (detail) this.fail(scope, what, detail);
    else this.ok(scope, what);
    return !detail;
  }

  /** Prints the summary and returns the process exit code. */
  finish(name) {
    const failed = this.failures.length;
    if (failed > 0) {
      console.log(`\n${name}: ${failed} check(s) failed:`);
      for (const failure of this.failures) console.log(`  - ${failure}`);
    }
    console.log(`${name}: ${this.passed} passed, ${failed} failed`);
    return failed > 0 ? 1 : 0;
  }
}
