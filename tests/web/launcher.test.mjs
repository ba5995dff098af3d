// Unit tests of the launcher's pure logic: expressions (§5.3), defaults (§5.4), visibility
// (§5.5), validation and coercion. Run with `node --test tests/web/`.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  parsePath, resolveExpression, computeDefaults, coerce, validate, validateAll, isHidden, optionsOf, sliderNumber, schemaAt,
} from "../../web/js/launcher/values.js";

const context = {
  user: { idep: "alice", email: "alice@example.org", darkMode: false },
  project: { id: "user-alice" },
  k8s: { domain: "localhost", randomSubdomain: "123456" },
  s3: { AWS_ACCESS_KEY_ID: "AK", port: 9000, pathStyleAccess: true },
  list: [{ id: "a", apiKey: "k1" }, { id: "b", apiKey: "k2" }],
  weird: { "key.with.dots": "dotted" },
  numbers: [10, 20],
};

test("paths: dots, indices and quoted keys", () => {
  assert.deepEqual(parsePath("a.b[0].c"), ["a", "b", 0, "c"]);
  assert.deepEqual(parsePath('weird["key.with.dots"]'), ["weird", "key.with.dots"]);
  assert.deepEqual(parsePath("weird['key.with.dots']"), ["weird", "key.with.dots"]);
  assert.equal(parsePath(""), null);
});

test("a bare path or a whole mustache keeps the value's type", () => {
  assert.deepEqual(resolveExpression("s3.port", context), { resolved: true, value: 9000 });
  assert.deepEqual(resolveExpression("{{s3.pathStyleAccess}}", context), { resolved: true, value: true });
  assert.deepEqual(resolveExpression("{{ numbers }}", context), { resolved: true, value: [10, 20] });
  assert.deepEqual(resolveExpression("numbers[1]", context), { resolved: true, value: 20 });
  assert.deepEqual(resolveExpression('{{weird["key.with.dots"]}}', context), { resolved: true, value: "dotted" });
});

test("interpolation needs scalars, else the whole expression is unresolved", () => {
  assert.deepEqual(resolveExpression("{{project.id}}-{{k8s.randomSubdomain}}-0.{{k8s.domain}}", context),
    { resolved: true, value: "user-alice-123456-0.localhost" });
  assert.deepEqual(resolveExpression("port {{s3.port}} {{s3.pathStyleAccess}}", context), { resolved: true, value: "port 9000 true" });
  assert.deepEqual(resolveExpression("x-{{numbers}}", context), { resolved: false });
  assert.deepEqual(resolveExpression("x-{{nothing.here}}", context), { resolved: false });
  assert.deepEqual(resolveExpression("user.unknown", context), { resolved: false });
});

test("inside arrays and objects plain strings are literals and every leaf must resolve", () => {
  assert.deepEqual(resolveExpression(["user.idep", "{{user.idep}}"], context), { resolved: true, value: ["user.idep", "alice"] });
  assert.deepEqual(resolveExpression({ a: "{{s3.port}}", b: "literal", c: 3 }, context), { resolved: true, value: { a: 9000, b: "literal", c: 3 } });
  assert.deepEqual(resolveExpression({ a: "{{missing}}" }, context), { resolved: false });
});

test("coercion: numbers and booleans to strings, yes/on/1 to true, numeric strings to numbers", () => {
  assert.deepEqual(coerce(9000, { type: "string" }), { ok: true, value: "9000" });
  assert.deepEqual(coerce(true, { type: "string" }), { ok: true, value: "true" });
  assert.deepEqual(coerce("yes", { type: "boolean" }), { ok: true, value: true });
  assert.deepEqual(coerce("on", { type: "boolean" }), { ok: true, value: true });
  assert.deepEqual(coerce("1", { type: "boolean" }), { ok: true, value: true });
  assert.deepEqual(coerce("42", { type: "integer" }), { ok: true, value: 42 });
  assert.deepEqual(coerce("4.5", { type: "integer" }), { ok: false });
  assert.deepEqual(coerce("abc", { type: "string", pattern: "^[0-9]+$" }), { ok: false });
  assert.deepEqual(coerce("2000m", { type: "string", render: "slider", sliderMin: 100, sliderMax: 1000, sliderUnit: "m" }), { ok: false });
  assert.deepEqual(coerce(443, { type: ["integer", "string"] }), { ok: true, value: 443 });
});

const schema = {
  type: "object",
  properties: {
    fixed: { const: "always" },
    name: { type: "string", default: "x", "x-onyxia": { overwriteDefaultWith: "{{user.idep}}" } },
    badExpression: { type: "string", default: "fallback", "x-onyxia": { overwriteDefaultWith: "{{nothing}}" } },
    badType: { type: "integer", default: 7, "x-onyxia": { overwriteDefaultWith: "user.email" } },
    port: { type: "string", default: "", "x-onyxia": { overwriteDefaultWith: "{{s3.port}}" } },
    fromYaml: { type: "string" },
    notInSchemaDefaults: { type: "object", properties: { a: { type: "boolean", default: false } } },
    items: { type: "array", minItems: 2, items: { type: "string", default: "item" } },
    empty: { type: "array", items: { type: "string" } },
    providers: {
      type: "array",
      items: { type: "object", properties: { id: { type: "string" }, apiKey: { type: "string" }, fixed: { type: "string", default: "d", "x-onyxia": { overwriteDefaultWith: "literal" } } } },
      "x-onyxia": { overwriteDefaultWith: "{{list}}" },
    },
  },
};

test("defaults follow onyxia-web's order: const, x-onyxia, default, values.yaml, minItems", () => {
  const values = computeDefaults(schema, context, { fromYaml: "from values.yaml", unknown: "dropped" });
  assert.equal(values.fixed, "always");
  assert.equal(values.name, "alice");
  assert.equal(values.badExpression, "fallback");
  assert.equal(values.badType, 7, "an expression of the wrong type falls back to the default");
  assert.equal(values.port, "9000");
  assert.equal(values.fromYaml, "from values.yaml");
  assert.equal(values.unknown, undefined, "only properties of the schema are emitted");
  assert.deepEqual(values.notInSchemaDefaults, { a: false });
  assert.deepEqual(values.items, ["item", "item"]);
  assert.deepEqual(values.empty, []);
  // Item properties read the element's keys; one with its own expression keeps it (a bare
  // path that does not resolve, so its default).
  assert.deepEqual(values.providers, [{ id: "a", apiKey: "k1", fixed: "d" }, { id: "b", apiKey: "k2", fixed: "d" }]);
});

test("hidden: boolean, x-onyxia, and value conditions with absolute and relative paths", () => {
  const values = { service: { custom: { enabled: false, version: "" } } };
  assert.equal(isHidden({ hidden: true }, values, []), true);
  assert.equal(isHidden({ "x-onyxia": { hidden: true } }, values, []), true);
  assert.equal(isHidden({ hidden: { value: false, path: "service/custom/enabled" } }, values, []), true);
  assert.equal(isHidden({ hidden: { value: true, path: "service/custom/enabled" } }, values, []), false);
  assert.equal(isHidden({ hidden: { value: false, path: "enabled", isPathRelative: true } }, values, ["service", "custom"]), true);
  assert.equal(isHidden({ type: "string" }, values, []), false);
});

test("select options: overwriteListEnumWith, then listEnum, then enum", () => {
  assert.deepEqual(optionsOf({ listEnum: ["a"], enum: ["b"] }, context), ["a"]);
  assert.deepEqual(optionsOf({ enum: ["b"] }, context), ["b"]);
  assert.deepEqual(optionsOf({ listEnum: ["a"], "x-onyxia": { overwriteListEnumWith: "{{numbers}}" } }, context), [10, 20]);
  assert.deepEqual(optionsOf({ listEnum: ["a"], "x-onyxia": { overwriteListEnumWith: "{{missing}}" } }, context), ["a"]);
  assert.equal(optionsOf({ type: "string" }, context), null);
});

test("validation messages name the rule", () => {
  const cpu = { type: "string", render: "slider", sliderMin: 100, sliderMax: 4000, sliderUnit: "m" };
  assert.equal(sliderNumber("500m", cpu), 500);
  assert.equal(sliderNumber("500", cpu), null);
  assert.equal(validate("500m", cpu), null);
  assert.match(validate("50m", cpu), /at least 100m/);
  assert.match(validate("5000m", cpu), /at most 4000m/);
  assert.match(validate("2", cpu), /followed by "m"/);
  assert.match(validate("x", { type: "string", pattern: "^[0-9]+$" }), /expected format/);
  assert.match(validate(3, { type: "integer", minimum: 5 }), /at least 5/);
  assert.match(validate("a", { type: "integer" }), /an integer/);
  assert.match(validate("c", { type: "string", enum: ["a", "b"] }), /one of "a", "b"/);
  assert.match(validate([1], { type: "array", minItems: 2 }), /at least 2 items/);
  const errors = validateAll(schema, { ...computeDefaults(schema, context), badType: "seven" }, context);
  assert.deepEqual(errors.map((e) => e.path), [["badType"]]);
});

test("schemaAt follows properties and list items", () => {
  assert.equal(schemaAt(schema, ["providers", 0, "apiKey"]).type, "string");
  assert.equal(schemaAt(schema, ["nope", "x"]), null);
});
