// Proves in a real browser that generated static-web apps work on a phone: every page of the spec
// reachable through its navigation, forms validating and storing records that survive a reload, no
// console or page errors, no horizontal scroll, <html lang> set.
//
//   node check-preview.mjs <apps.json | -> [--out result.json]
//
// apps.json: [{"url": "http://…/", "spec": <AppSpec JSON or null>}]. With a null spec the app's own
// <script id="app-data"> is read instead. Prints one line per check; exits 1 when any check fails.
import { chromium } from "playwright-core";
import { writeFile } from "node:fs/promises";
import { CHROME_FLAGS, Reporter, chromePath, freshProfile, parseArgs, readJson } from "./common.mjs";
import { rulesOf, validValue } from "./values.mjs";

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };
const STEP_TIMEOUT_MS = 5_000;
const q = (value) => JSON.stringify(String(value)); // a CSS attribute value, quoted

/** Pages and models from an AppSpec (`dataModels`) or from the app-data shape (`models`). */
function describe(spec) {
  const pages = Array.isArray(spec?.pages) ? spec.pages.filter((p) => p && typeof p.id === "string") : [];
  const rawModels = Array.isArray(spec?.dataModels) ? spec.dataModels : Array.isArray(spec?.models) ? spec.models : [];
  const models = rawModels
    .filter((m) => m && typeof m.name === "string")
    .map((m) => ({ id: m.id, name: m.name, fields: Array.isArray(m.fields) ? m.fields.filter((f) => f && f.name) : [] }));
  return { pages, models };
}

function findModel(models, attr) {
  return (
    models.find((m) => m.name === attr) ??
    models.find((m) => m.id === attr) ??
    models.find((m) => m.name.toLowerCase() === String(attr).toLowerCase())
  );
}

/** Checks one app; every outcome goes to `report`. Returns the URL of each page reached. */
async function checkApp(browserPath, app, report) {
  const scope = app.url;
  const profile = await freshProfile("ingenio-preview-");
  const context = await chromium.launchPersistentContext(profile.dir, {
    executablePath: browserPath,
    headless: true,
    args: CHROME_FLAGS,
    ...PHONE,
  });
  const pageUrls = [];
  const problems = [];
  let phase = "load";
  try {
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (err) => problems.push(`[${phase}] page error: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() !== "error") return;
      const where = msg.location()?.url ? ` (${msg.location().url}:${msg.location().lineNumber})` : "";
      problems.push(`[${phase}] console error: ${msg.text()}${where}`);
    });
    page.on("requestfailed", (req) => problems.push(`[${phase}] request failed: ${req.method()} ${req.url()} (${req.failure()?.errorText})`));
    page.on("response", (res) => {
      if (res.status() >= 400) problems.push(`[${phase}] HTTP ${res.status()} for ${res.url()}`);
    });

    const response = await page.goto(app.url, { waitUntil: "load" });
    if (!report.check(scope, "opens", response && response.ok() ? "" : `HTTP ${response?.status()}`)) return pageUrls;

    const lang = await page.evaluate(() => document.documentElement.getAttribute("lang") || "");
    report.check(scope, `<html lang> is set (${JSON.stringify(lang)})`, lang.trim() ? "" : "missing or empty");

    let spec = app.spec;
    if (!spec) {
      spec = await page.evaluate(() => {
        const el = document.getElementById("app-data");
        try {
          return el ? JSON.parse(el.textContent) : null;
        } catch {
          return null;
        }
      });
      report.note(scope, "no spec given: pages and models read from #app-data");
    }
    const { pages, models } = describe(spec);
    if (!report.check(scope, `the spec has pages (${pages.length})`, pages.length ? "" : "no pages to check")) return pageUrls;

    phase = "navigation";
    for (const p of pages) {
      const url = await visit(page, p.id, scope, report);
      if (url) pageUrls.push(url);
    }
    const domPages = await page.$$eval("[data-page]", (els) => els.map((el) => el.getAttribute("data-page")));
    const extra = domPages.filter((id) => !pages.some((p) => p.id === id));
    if (extra.length) report.note(scope, `sections not in the spec: ${extra.join(", ")}`);

    phase = "reload";
    const last = pages[pages.length - 1].id;
    await page.reload({ waitUntil: "load" });
    report.check(scope, `reloading #${last} shows page ${last} again`, await onlyVisible(page, last));

    phase = "forms";
    const forms = await page.$$eval("form[data-model]", (els) =>
      els.map((f) => ({ model: f.getAttribute("data-model"), page: f.closest("[data-page]")?.getAttribute("data-page") ?? null })),
    );
    if (forms.length === 0 && models.length > 0) report.note(scope, `no form[data-model] for the models ${models.map((m) => m.name).join(", ")}`);
    for (const [index, form] of forms.entries()) {
      phase = `form ${form.model}`;
      await checkForm(page, index, form, findModel(models, form.model), `${scope} form ${form.model}`, report);
    }
  } finally {
    report.check(scope, "no console errors, page errors or failed requests", problems.length ? `\n      ${problems.join("\n      ")}` : "");
    await context.close().catch(() => {});
    await profile.remove();
  }
  return pageUrls;
}

/** "" when `[data-page=id]` is the only visible page, else what is wrong. */
async function onlyVisible(page, id) {
  const state = await page.$$eval("[data-page]", (els) =>
    els.map((el) => ({ id: el.getAttribute("data-page"), visible: el.checkVisibility() })),
  );
  const target = state.filter((s) => s.id === id);
  if (target.length === 0) return `no [data-page=${q(id)}] section`;
  if (!target.some((s) => s.visible)) return `[data-page=${q(id)}] is not visible`;
  const others = state.filter((s) => s.id !== id && s.visible).map((s) => s.id);
  return others.length ? `other pages still visible: ${others.join(", ")}` : "";
}

/** Clicks `[data-nav=id]` and checks the page it shows; returns the URL reached (or null). */
async function visit(page, id, scope, report) {
  const what = `page ${id} reached through [data-nav]`;
  const link = page.locator(`[data-nav=${q(id)}]`).first();
  if ((await link.count()) === 0) return report.fail(scope, what, `no [data-nav=${q(id)}] link`), null;
  if (!(await link.isVisible())) return report.fail(scope, what, `[data-nav=${q(id)}] is not visible on a 390 px screen`), null;
  await link.click();
  await page.locator(`[data-page=${q(id)}]`).first().waitFor({ state: "visible", timeout: STEP_TIMEOUT_MS }).catch(() => {});
  const url = page.url();
  const problem = (await onlyVisible(page, id)) || (new URL(url).hash ? "" : `no #fragment in the URL after the click (${url})`);
  report.check(scope, what, problem);
  // On a phone (isMobile) chromium widens the layout to fit wide content, so innerWidth grows with
  // it; the root's clientWidth stays the device width.
  const { scrollWidth, width } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    width: Math.min(window.innerWidth, document.documentElement.clientWidth),
  }));
  report.check(scope, `page ${id} has no horizontal scroll (${scrollWidth} <= ${width})`, scrollWidth <= width ? "" : `scrollWidth ${scrollWidth} > viewport width ${width}`);
  return problem ? null : url;
}

/** Empty submit shows every required field's message and stores nothing; a valid one stores a record that survives a reload. */
async function checkForm(page, index, form, model, scope, report) {
  if (!model) return report.fail(scope, "names a data model of the spec", `no model called ${q(form.model)}`);
  const formLoc = () => page.locator("form[data-model]").nth(index);
  const show = async () => {
    if (form.page !== null) await page.locator(`[data-nav=${q(form.page)}]`).first().click();
    await formLoc().waitFor({ state: "visible", timeout: STEP_TIMEOUT_MS });
  };
  await show();

  const missing = [];
  for (const field of model.fields) if ((await formLoc().locator(`[name=${q(field.name)}]`).count()) === 0) missing.push(field.name);
  if (!report.check(scope, "has an input for every field", missing.length ? `no [name] for ${missing.join(", ")}` : "")) return;

  const unlabeled = await formLoc().evaluate((f) =>
    Array.from(f.querySelectorAll("input, select, textarea"))
      .filter((el) => !["hidden", "submit", "button", "reset"].includes(el.type))
      .filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")))
      .map((el) => el.name || el.id || el.tagName.toLowerCase()),
  );
  report.check(scope, "every input has a label", unlabeled.length ? `unlabeled: ${unlabeled.join(", ")}` : "");

  const submit = formLoc().locator("button[type=submit], input[type=submit]").first();
  if (!report.check(scope, "has a submit button", (await submit.count()) ? "" : "no button[type=submit]")) return;
  const list = page.locator(`[data-list=${q(form.model)}]`);
  if (!report.check(scope, `has a [data-list=${q(form.model)}]`, (await list.count()) ? "" : "missing")) return;
  // A model may be listed in several places (with its form, and by List/Table components on other
  // pages): each of its lists must show the new record exactly once.
  const records = () =>
    page.locator(`[data-list=${q(form.model)}]`).evaluateAll((lists) => lists.map((l) => l.querySelectorAll("[data-record]").length));
  const before = await records();
  const same = (counts) => counts.length === before.length && counts.every((n, i) => n === before[i]);
  const oneMore = (counts) => counts.length === before.length && counts.every((n, i) => n === before[i] + 1);
  const shownCounts = (counts) => (counts.length === 1 ? String(counts[0]) : `[${counts.join(", ")}] (one count per list)`);

  // 1. Empty submit.
  const expected = [];
  for (const field of model.fields) {
    const emptied = await empty(formLoc().locator(`[name=${q(field.name)}]`));
    if (!field.required) continue;
    if (field.type === "boolean") report.note(scope, `required boolean ${field.name}: an unchecked box is not required to show a message`);
    else if (!emptied) report.note(scope, `${field.name} cannot be left empty (no empty choice), no message expected`);
    else expected.push(field.name);
  }
  await submit.click();
  const names = model.fields.map((f) => f.name);
  const messages = await poll(() => errorMessages(formLoc(), names), (m) => expected.every((n) => m[n]), 2_000);
  const silent = expected.filter((name) => !messages[name]);
  report.check(scope, `empty submit shows a message for each required field (${expected.join(", ") || "none"})`, silent.length ? `no visible [data-error] text for ${silent.join(", ")}` : "");
  const afterEmpty = await records();
  report.check(scope, "empty submit stores nothing", same(afterEmpty) ? "" : `records went from ${shownCounts(before)} to ${shownCounts(afterEmpty)}`);

  // 2. Valid submit.
  const values = [];
  for (const field of model.fields) {
    const control = formLoc().locator(`[name=${q(field.name)}]`);
    const kind = await control.first().evaluate((el) => ({ tag: el.tagName.toLowerCase(), type: (el.getAttribute("type") || "").toLowerCase() }));
    const derived = validValue(field, kind);
    if (derived.skip) return report.note(scope, `skipped the valid submit: ${field.name}: ${derived.skip}`);
    values.push([field, control, kind, derived.value]);
  }
  for (const [field, control, kind, value] of values) await fill(control, kind, field, value);
  await submit.click();
  const afterValid = await poll(records, (counts) => !same(counts), 3_000);
  const shown = Object.entries(await errorMessages(formLoc(), names)).filter(([, m]) => m);
  const filled = values.map(([f, , , v]) => `${f.name}=${JSON.stringify(v)}`).join(", ");
  report.check(scope, `valid submit (${filled}) adds one [data-record] to each list`, oneMore(afterValid) ? "" : `records went from ${shownCounts(before)} to ${shownCounts(afterValid)}${shown.length ? `; messages: ${shown.map(([n, m]) => `${n}: ${m}`).join("; ")}` : ""}`);
  report.check(scope, "valid submit leaves no field message", shown.length ? shown.map(([n, m]) => `${n}: ${m}`).join("; ") : "");

  // 3. Reload.
  await page.reload({ waitUntil: "load" });
  const afterReload = await records();
  report.check(scope, "the record survives a reload", oneMore(afterReload) ? "" : `${shownCounts(afterReload)} records after reload, expected ${shownCounts(before.map((n) => n + 1))}`);
}

/** Calls `probe` until `done(value)` or `ms` have passed; returns the last value. */
async function poll(probe, done, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Empties a control; false when it has no empty state (a select without an empty option, radios). */
async function empty(control) {
  const first = control.first();
  const { tag, type } = await first.evaluate((el) => ({ tag: el.tagName.toLowerCase(), type: (el.getAttribute("type") || "").toLowerCase() }));
  if (type === "checkbox") return await first.setChecked(false), true;
  if (type === "radio") return (await control.evaluateAll((els) => !els.some((el) => el.checked)));
  if (tag === "select") {
    const hasEmpty = await first.evaluate((el) => Array.from(el.options).some((o) => o.value === ""));
    if (hasEmpty) await first.selectOption("");
    return hasEmpty;
  }
  await first.fill("");
  return true;
}

async function fill(control, kind, field, value) {
  const first = control.first();
  if (kind.type === "checkbox") return first.setChecked(Boolean(value));
  if (kind.type === "radio") return control.locator(`xpath=self::*[@value=${xpathString(String(value))}]`).first().check();
  if (kind.tag === "select") {
    const options = await first.evaluate((el) => Array.from(el.options).map((o) => o.value).filter((v) => v !== ""));
    const wanted = Array.isArray(rulesOf(field).options) && options.includes(String(value)) ? String(value) : options[0];
    return first.selectOption(wanted);
  }
  return first.fill(String(value));
}

const xpathString = (s) => (s.includes("'") ? `concat('${s.split("'").join(`', "'", '`)}')` : `'${s}'`);

/** The visible text of each field's `[data-error]`, looked up in the form, then in its page. */
function errorMessages(formLoc, names) {
  return formLoc.evaluate((f, fieldNames) => {
    const scopeEl = f.closest("[data-page]") ?? document;
    const out = {};
    for (const name of fieldNames) {
      const sel = `[data-error=${JSON.stringify(name)}]`;
      const el = f.querySelector(sel) ?? scopeEl.querySelector(sel);
      out[name] = el && el.checkVisibility() ? el.textContent.trim() : "";
    }
    return out;
  }, names);
}

async function main() {
  const { options, positional } = parseArgs(process.argv.slice(2), ["out"]);
  if (positional.length !== 1) {
    console.error("usage: node check-preview.mjs <apps.json | -> [--out result.json]");
    return 2;
  }
  const apps = await readJson(positional[0]);
  if (!Array.isArray(apps) || apps.some((a) => !a || typeof a.url !== "string")) {
    console.error("check-preview: expected a JSON list of {url, spec}");
    return 2;
  }
  const browserPath = chromePath();
  const report = new Reporter();
  const results = [];
  for (const app of apps) {
    const started = Date.now();
    let pageUrls = [];
    try {
      pageUrls = await checkApp(browserPath, app, report);
    } catch (err) {
      report.fail(app.url, "check ran to the end", err.message.split("\n")[0]);
    }
    console.log(`      ${app.url} checked in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    results.push({ url: app.url, pageUrls });
  }
  if (options.out) await writeFile(options.out, JSON.stringify({ apps: results, failures: report.failures }, null, 2));
  return report.finish("check-preview");
}

process.exitCode = await main().catch((err) => (console.error(`check-preview: ${err.stack ?? err}`), 3));
