// Unit tests for values.mjs: `node --test xtask/browser/`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DATE_VALUE, fromPattern, validValue } from "./values.mjs";

test("strings respect minLength and maxLength", () => {
  for (const [min, max] of [[0, 100], [2, 3], [20, 40], [1, 1], [12, 12]]) {
    const { value } = validValue({ type: "string", validation: { minLength: min, maxLength: max } });
    const n = Array.from(value).length;
    assert.ok(n >= Math.max(min, 1) && n <= max, `${JSON.stringify(value)} for [${min}, ${max}]`);
  }
});

test("impossible length bounds are skipped, not guessed", () => {
  assert.ok(validValue({ type: "string", validation: { minLength: 5, maxLength: 2 } }).skip);
  assert.ok(validValue({ type: "number", validation: { min: 5, max: 2 } }).skip);
});

test("numbers stay within min and max", () => {
  assert.equal(validValue({ type: "number" }).value, 7);
  assert.equal(validValue({ type: "number", validation: { min: 10 } }).value, 10);
  assert.equal(validValue({ type: "number", validation: { max: 3 } }).value, 3);
  assert.equal(validValue({ type: "number", validation: { min: 0.5, max: 0.7 } }).value, 0.5);
  assert.equal(validValue({ type: "number", validation: { min: 1, max: 2000 } }).value, 7);
});

test("options win over everything else", () => {
  assert.equal(validValue({ type: "string", validation: { options: ["red", "blue"], pattern: "(" } }).value, "red");
  assert.equal(validValue({ type: "string", validation: { options: [{ value: "s", label: "Small" }] } }).value, "s");
  assert.equal(validValue({ type: "number", validation: { options: ["3", "4"] } }).value, 3);
});

test("an option the pattern refuses is passed over, and none left means skip", () => {
  assert.equal(validValue({ type: "string", validation: { options: ["red", "B2"], pattern: "^[A-Z]\\d$" } }).value, "B2");
  assert.match(validValue({ type: "string", validation: { options: ["x", "y"], pattern: "\\d" } }).skip, /^no option matches the pattern/);
  assert.match(validValue({ type: "string", validation: { options: ["<a>"], pattern: "</a>(1)" } }).skip, /^no option matches/);
});

test("dates, booleans and e-mails", () => {
  assert.equal(validValue({ type: "date" }).value, DATE_VALUE);
  assert.equal(validValue({ type: "date", validation: { min: "2025-01-01" } }).value, "2025-01-01");
  assert.equal(validValue({ type: "boolean" }).value, true);
  const { value } = validValue({ type: "string", validation: { email: true, minLength: 20 } });
  assert.match(value, /^[^@\s]+@[^@\s]+\.[a-z]+$/);
  assert.ok(value.length >= 20);
  assert.match(validValue({ type: "string" }, { tag: "input", type: "email" }).value, /@/);
});

test("simple patterns are satisfied in full", () => {
  for (const pattern of ["^[A-Z]{2}\\d{4}$", "\\d+", "[a-z]+@[a-z]+\\.com", "^S\\d{3}-x?$", "[0-9]{6}", "ab.c*"]) {
    const value = fromPattern(pattern, 0, Infinity);
    assert.ok(value !== null, pattern);
    assert.match(value, new RegExp(`^(?:${pattern})$`, "u"));
  }
});

test("patterns are stretched to minLength and refused past maxLength", () => {
  const value = fromPattern("[a-z]+", 8, 10);
  assert.equal(value.length, 8);
  assert.equal(fromPattern("\\d{6}", 0, 5), null);
});

test("hard patterns yield null", () => {
  for (const pattern of ["(ab)+", "a|b", "[^0-9]+", "\\D+", "(?=a)a", "*a", "a{3,1}"]) {
    assert.equal(fromPattern(pattern), null, pattern);
    assert.ok(validValue({ type: "string", validation: { pattern } }).skip, pattern);
  }
});
