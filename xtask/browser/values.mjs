// Valid input values derived from an AppSpec field (type + validation), for filling generated forms.
// `validValue(field, control)` returns `{ value }` or `{ skip: reason }` when no value can be derived.

export const DATE_VALUE = "2024-05-01";

const optionValue = (option) =>
  option !== null && typeof option === "object" ? (option.value ?? option.label ?? option.name) : option;

/** The spec's `validation` object (or `{}`). */
export const rulesOf = (field) =>
  field && field.validation && typeof field.validation === "object" && !Array.isArray(field.validation)
    ? field.validation
    : {};

const finite = (n) => (typeof n === "number" && Number.isFinite(n) ? n : undefined);
const charCount = (s) => Array.from(s).length;

/** A value for `field`; `control` describes the form element: `{ tag, type }`. */
export function validValue(field, control = { tag: "input", type: "text" }) {
  const rules = rulesOf(field);
  const type = String(field.type || "string");
  if (Array.isArray(rules.options) && rules.options.length > 0) {
    // The first option the field's own pattern accepts (a spec may list options its pattern refuses).
    const re = appRegex(rules.pattern);
    const accepted = rules.options.map(optionValue).find((o) => re === null || re.test(String(o).trim()));
    if (accepted === undefined) return { skip: `no option matches the pattern ${JSON.stringify(rules.pattern)}` };
    return { value: type === "number" ? Number(accepted) : String(accepted) };
  }
  switch (type) {
    case "boolean":
      return { value: true };
    case "number":
      return numberValue(rules);
    case "date":
      return dateValue(rules);
    default:
      return stringValue(rules, control);
  }
}

/** A pattern compiled as generated apps do (Unicode mode, else plain, else no check: null). */
function appRegex(pattern) {
  if (typeof pattern !== "string" || pattern === "") return null;
  for (const flags of ["u", ""]) {
    try {
      return new RegExp(pattern, flags);
    } catch {
      // try the next flags
    }
  }
  return null;
}

function numberValue(rules) {
  const min = finite(rules.min);
  const max = finite(rules.max);
  if (min !== undefined && max !== undefined && min > max) return { skip: `min ${min} > max ${max}` };
  let value = 7;
  if (min !== undefined && value < min) value = Number.isInteger(min) ? min : Math.ceil(min);
  if (max !== undefined && value > max) value = Number.isInteger(max) ? max : Math.floor(max);
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) value = min;
  return { value };
}

function dateValue(rules) {
  const iso = /^\d{4}-\d{2}-\d{2}$/;
  let value = DATE_VALUE;
  if (typeof rules.min === "string" && iso.test(rules.min) && rules.min > value) value = rules.min;
  if (typeof rules.max === "string" && iso.test(rules.max) && rules.max < value) value = rules.max;
  return { value };
}

function stringValue(rules, control) {
  const min = finite(rules.minLength) ?? 0;
  const max = finite(rules.maxLength) ?? Infinity;
  if (min > max) return { skip: `minLength ${min} > maxLength ${max}` };
  const pattern = typeof rules.pattern === "string" && rules.pattern !== "" ? rules.pattern : null;
  if (pattern !== null) {
    const value = fromPattern(pattern, min, max);
    return value === null ? { skip: `pattern ${JSON.stringify(pattern)} is too hard to satisfy` } : { value };
  }
  if (rules.email === true || control.type === "email") return emailValue(min, max);
  if (control.type === "url") return fit("https://example.org/", min, max, "a");
  if (control.type === "tel") return fit("0123456789", min, max, "0");
  return fit("Test entry", min, max, "x");
}

/** `base` cut or padded with `pad` to a length in [min, max]. */
function fit(base, min, max, pad) {
  const length = Math.min(Math.max(charCount(base), min), max);
  const chars = Array.from(base);
  const value = chars.length >= length ? chars.slice(0, length).join("").trimEnd() : base + pad.repeat(length - chars.length);
  return charCount(value) >= min ? { value } : { value: pad.repeat(Math.max(min, 1)) };
}

function emailValue(min, max) {
  const domain = "@example.org";
  const local = Math.max(1, Math.min(3, max - domain.length), min - domain.length);
  if (local + domain.length > max) return { skip: `no e-mail address fits maxLength ${max}` };
  return { value: "a".repeat(local) + domain };
}

/**
 * A string that fully matches a simple `pattern` (literals, escapes, classes, quantifiers, optional
 * ^ and $) with a length in [min, max]; null for anything else (groups, alternation, look-arounds).
 */
export function fromPattern(pattern, min = 0, max = Infinity) {
  const atoms = parsePattern(pattern);
  if (atoms === null) return null;
  const counts = atoms.map((atom) => atom.min);
  let length = counts.reduce((sum, n) => sum + n, 0);
  for (let i = 0; i < atoms.length && length < min; i += 1) {
    const extra = Math.min(atoms[i].max - counts[i], min - length);
    counts[i] += extra;
    length += extra;
  }
  const value = atoms.map((atom, i) => atom.char.repeat(counts[i])).join("");
  const count = charCount(value);
  if (count < min || count > max) return null;
  try {
    const re = new RegExp(`^(?:${pattern})$`, "u");
    return re.test(value) ? value : null;
  } catch {
    return null;
  }
}

const ESCAPES = { d: "1", w: "a", s: " " };

function parsePattern(source) {
  let body = source;
  if (body.startsWith("^")) body = body.slice(1);
  if (body.endsWith("$") && !body.endsWith("\\$")) body = body.slice(0, -1);
  const chars = Array.from(body);
  const atoms = [];
  let i = 0;
  while (i < chars.length) {
    const c = chars[i];
    let char;
    if ("()|^$".includes(c)) return null;
    if (c === "\\") {
      const next = chars[i + 1];
      if (next === undefined) return null;
      if (next in ESCAPES) char = ESCAPES[next];
      else if (/[A-Za-z0-9]/.test(next)) return null; // \D, \b, \u…: not handled
      else char = next;
      i += 2;
    } else if (c === "[") {
      const end = chars.indexOf("]", i + 1);
      if (end < 0 || chars[i + 1] === "^") return null;
      const inner = chars.slice(i + 1, end);
      if (inner.length === 0) return null;
      if (inner[0] === "\\") {
        if (!(inner[1] in ESCAPES)) return null;
        char = ESCAPES[inner[1]];
      } else {
        char = inner[0];
      }
      i = end + 1;
    } else if (c === ".") {
      char = "a";
      i += 1;
    } else if ("*+?{".includes(c)) {
      return null; // a quantifier with nothing to repeat
    } else {
      char = c;
      i += 1;
    }
    const [qmin, qmax, used] = quantifier(chars, i);
    if (qmin === null) return null;
    i += used;
    atoms.push({ char, min: qmin, max: qmax });
  }
  return atoms;
}

function quantifier(chars, i) {
  const c = chars[i];
  if (c === "*") return [0, Infinity, 1];
  if (c === "+") return [1, Infinity, 1];
  if (c === "?") return [0, 1, 1];
  if (c !== "{") return [1, 1, 0];
  const end = chars.indexOf("}", i);
  if (end < 0) return [null, null, 0];
  const m = /^(\d+)(,(\d*))?$/.exec(chars.slice(i + 1, end).join(""));
  if (!m) return [null, null, 0];
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : m[3] === "" ? Infinity : Number(m[3]);
  if (hi < lo) return [null, null, 0];
  return [lo, hi, end - i + 1];
}
