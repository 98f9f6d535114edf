// Lighthouse accessibility and best-practices scores of pages, on a phone, in Debian's chromium.
//
//   node lighthouse.mjs <url>... [--threshold 95] [--required id,id,...] [--json scores.json]
//
// Prints one line per URL and the failing audits; writes [{url, accessibility, bestPractices,
// failing: [{id, category, title, nodes}], requiredFailed: [id]}] to --json; exits 1 when a score
// is below the threshold or a required audit fails (one low-contrast text costs only a few points on
// a page with many passing audits, so the score alone lets it through).
import lighthouse from "lighthouse";
import * as chromeLauncher from "chrome-launcher";
import { writeFile } from "node:fs/promises";
import { CHROME_FLAGS, chromePath, freshProfile, parseArgs } from "./common.mjs";

const CATEGORIES = { accessibility: "accessibility", "best-practices": "bestPractices" };
const MAX_NODES = 3;
/** Audits that fail the run whatever the score: what a child on a phone cannot work around. */
const REQUIRED_AUDITS = [
  "color-contrast",
  "label",
  "button-name",
  "link-name",
  "image-alt",
  "html-has-lang",
  "document-title",
  "meta-viewport",
  "errors-in-console",
];

const FLAGS = {
  logLevel: process.env.LH_LOG || "error",
  output: "json",
  onlyCategories: Object.keys(CATEGORIES),
  formFactor: "mobile",
  screenEmulation: { mobile: true, width: 390, height: 844, deviceScaleFactor: 3, disabled: false },
  disableStorageReset: false,
  maxWaitForLoad: 30_000,
  // A static app on loopback: no need for Lighthouse's long quiet windows or the page screenshot.
  pauseAfterFcpMs: 250,
  pauseAfterLoadMs: 250,
  networkQuietThresholdMs: 500,
  cpuQuietThresholdMs: 500,
  disableFullPageScreenshot: true,
};

/** Audits that count towards a category score and did not pass. */
function failingAudits(lhr) {
  const failing = [];
  for (const [categoryId, category] of Object.entries(lhr.categories)) {
    for (const ref of category.auditRefs) {
      const audit = lhr.audits[ref.id];
      if (ref.weight === 0 || !audit || audit.score === null || audit.score >= 1) continue;
      const items = Array.isArray(audit.details?.items) ? audit.details.items : [];
      const nodes = items
        .map((item) => item.node?.snippet ?? item.source?.url ?? item.description ?? null)
        .filter(Boolean)
        .slice(0, MAX_NODES);
      failing.push({ id: ref.id, category: categoryId, title: audit.title, nodes });
    }
  }
  return failing;
}

async function main() {
  const { options, positional: urls } = parseArgs(process.argv.slice(2), ["threshold", "required", "json"]);
  const required = options.required === undefined ? REQUIRED_AUDITS : options.required.split(",").filter(Boolean);
  const threshold = Number(options.threshold ?? 95);
  if (urls.length === 0 || !Number.isFinite(threshold)) {
    console.error("usage: node lighthouse.mjs <url>... [--threshold 95] [--required id,id,...] [--json scores.json]");
    return 2;
  }
  const profile = await freshProfile("ingenio-lighthouse-");
  const chrome = await chromeLauncher.launch({
    chromePath: chromePath(),
    chromeFlags: CHROME_FLAGS,
    userDataDir: profile.dir,
    logLevel: "silent",
  });
  const results = [];
  let failed = 0;
  try {
    for (const url of urls) {
      const started = Date.now();
      const runnerResult = await lighthouse(url, { ...FLAGS, port: chrome.port });
      const lhr = runnerResult?.lhr;
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      if (!lhr || lhr.runtimeError) {
        failed += 1;
        console.log(`FAIL  lighthouse ${url}: ${lhr?.runtimeError?.message ?? "no result"}`);
        results.push({ url, accessibility: 0, bestPractices: 0, failing: [], requiredFailed: [], error: lhr?.runtimeError?.message ?? "no result" });
        continue;
      }
      const scores = {};
      for (const [id, key] of Object.entries(CATEGORIES)) scores[key] = Math.round((lhr.categories[id]?.score ?? 0) * 100);
      const failing = failingAudits(lhr);
      const requiredFailed = failing.filter((audit) => required.includes(audit.id)).map((audit) => audit.id);
      const low = Object.values(scores).some((score) => score < threshold) || requiredFailed.length > 0;
      if (low) failed += 1;
      const must = requiredFailed.length ? `, required audits failed: ${requiredFailed.join(", ")}` : "";
      console.log(
        `${low ? "FAIL" : "ok  "}  lighthouse ${url}: accessibility ${scores.accessibility}, best-practices ${scores.bestPractices} (threshold ${threshold}${must}, ${seconds}s)`,
      );
      for (const audit of failing) {
        console.log(`        - ${audit.category}/${audit.id}: ${audit.title}`);
        for (const node of audit.nodes) console.log(`            ${String(node).replace(/\s+/g, " ").slice(0, 160)}`);
      }
      for (const warning of lhr.runWarnings ?? []) console.log(`        warning: ${warning}`);
      results.push({ url, ...scores, failing, requiredFailed });
    }
  } finally {
    await chrome.kill();
    await profile.remove();
  }
  if (options.json) await writeFile(options.json, JSON.stringify(results, null, 2));
  console.log(`lighthouse: ${urls.length - failed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

// Lighthouse leaves timers behind that keep Node alive for seconds: exit as soon as the work is done
// (stdout is synchronous for files and pipes on Linux, so nothing printed is lost).
process.exit(await main().catch((err) => (console.error(`lighthouse: ${err.stack ?? err}`), 3)));
