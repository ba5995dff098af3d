// Unit tests of Onyxia launch links (§6): keys, values, patches, round trips.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  parseKey, formatKey, parseValue, formatValue, parseLaunchQuery, applyPatches, diffPatches, buildLaunchUrl,
} from "../../web/js/launcher/launch-url.js";

test("keys: dots, escaped dots and list indices", () => {
  assert.deepEqual(parseKey("resources.requests.cpu"), ["resources", "requests", "cpu"]);
  assert.deepEqual(parseKey("spark.userConfig.spark\\.driver\\.memory"), ["spark", "userConfig", "spark.driver.memory"]);
  assert.deepEqual(parseKey("git.repos[2].url"), ["git", "repos", 2, "url"]);
  assert.equal(parseKey("toplevel"), null, "a key without a dot is not a patch");
  assert.equal(parseKey("a[x].b"), null);
  assert.equal(formatKey(["spark", "userConfig", "spark.driver.memory"]), "spark.userConfig.spark\\.driver\\.memory");
  assert.equal(formatKey(["git", "repos", 2, "url"]), "git.repos[2].url");
});

test("values: booleans, null, removal, numbers as parseFloat reads them, «text»", () => {
  assert.deepEqual(parseValue("true"), { value: true });
  assert.deepEqual(parseValue("false"), { value: false });
  assert.deepEqual(parseValue("null"), { value: null });
  assert.deepEqual(parseValue("-"), { value: undefined });
  assert.deepEqual(parseValue("42"), { value: 42 });
  assert.deepEqual(parseValue("2Gi"), { value: 2 }, "parseFloat's prefix rule, as onyxia-web");
  assert.deepEqual(parseValue("«2Gi»"), { value: "2Gi" });
  assert.deepEqual(parseValue("«»"), { value: "" });
  assert.throws(() => parseValue("hello"), /«hello»/);
  assert.equal(formatValue("a b"), "«a b»");
  assert.equal(formatValue(undefined), "-");
  assert.equal(formatValue(null), "null");
  assert.equal(formatValue(3.5), "3.5");
});

test("the launcher query: route params, patches, and errors", () => {
  const params = new URLSearchParams("autoLaunch=true&name=tp1&version=1.2.3&shared=true&s3=default&init.personalInit=%C2%ABhttps%3A%2F%2Fexample.org%2Finit.sh%C2%BB&resources.requests.cpu=%C2%AB2000m%C2%BB&persistence.enabled=false&oidc-spa.state=x&plain=ignored&bad.value=oops&a..b=1");
  const link = parseLaunchQuery(params);
  assert.equal(link.autoLaunch, true);
  assert.equal(link.name, "tp1");
  assert.equal(link.version, "1.2.3");
  assert.equal(link.shared, true);
  assert.equal(link.s3, "default");
  assert.deepEqual(link.patches.map((p) => [p.path, p.value]), [
    [["init", "personalInit"], "https://example.org/init.sh"],
    [["resources", "requests", "cpu"], "2000m"],
    [["persistence", "enabled"], false],
  ]);
  assert.equal(link.errors.length, 2);
  assert.match(link.errors[0], /bad\.value/);
  assert.match(link.errors[1], /a\.\.b/);
});

test("patches apply, remove, and come back out of a diff", () => {
  const defaults = { resources: { cpu: "100m", memory: "1Gi" }, list: ["a", "b"], flag: true, top: "x" };
  const values = applyPatches(defaults, [
    { path: ["resources", "cpu"], value: "2000m" },
    { path: ["resources", "memory"], value: undefined },
    { path: ["list", 1], value: "c" },
    { path: ["deep", "new"], value: 1 },
  ]);
  assert.deepEqual(values, { resources: { cpu: "2000m" }, list: ["a", "c"], flag: true, top: "x", deep: { new: 1 } });
  assert.deepEqual(defaults.resources.cpu, "100m", "defaults are not modified");
  const patches = diffPatches(defaults, values);
  assert.deepEqual(applyPatches(defaults, patches), values);
  assert.deepEqual(diffPatches(defaults, defaults), []);
  const shorter = { ...defaults, list: ["a"] };
  assert.deepEqual(applyPatches(defaults, diffPatches(defaults, shorter)), shorter);
});

test("a launch URL round-trips through the parser", () => {
  const defaults = { resources: { cpu: "100m" }, init: { personalInit: "" }, persistence: { enabled: true }, top: "x" };
  const values = { resources: { cpu: "2000m" }, init: { personalInit: "https://example.org/a b.sh?x=1&y=«2»" }, persistence: { enabled: false }, top: "changed" };
  const url = buildLaunchUrl({ catalogId: "ide", chartName: "jupyter-python", autoLaunch: true, name: "TP 1", version: "2.5.2", patches: diffPatches(defaults, values) });
  assert.ok(url.startsWith("/launcher/ide/jupyter-python?autoLaunch=true&name=TP%201&version=2.5.2&"), url);
  assert.ok(url.includes("resources.requests") || url.includes("resources.cpu=%C2%AB2000m%C2%BB"), url);
  assert.ok(!url.includes("top="), "top-level values cannot travel in Onyxia's format");
  const link = parseLaunchQuery(new URL(url, "http://x").searchParams);
  assert.equal(link.name, "TP 1");
  assert.deepEqual(applyPatches(defaults, link.patches), { ...values, top: "x" });
});
