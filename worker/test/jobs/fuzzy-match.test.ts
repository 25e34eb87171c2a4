import assert from "node:assert/strict";
import { test } from "node:test";
import { jaro, jaroWinkler, nameSimilarity, normalizeName } from "../../src/jobs/fuzzy-match.ts";

test("computes the textbook Jaro and Jaro-Winkler values", () => {
  assert.equal(Math.round(jaro("MARTHA", "MARHTA") * 1000) / 1000, 0.944);
  assert.equal(Math.round(jaroWinkler("MARTHA", "MARHTA") * 1000) / 1000, 0.961);
  assert.equal(Math.round(jaroWinkler("DIXON", "DICKSONX") * 1000) / 1000, 0.813);
  assert.equal(jaro("", "a"), 0);
  assert.equal(jaro("same", "same"), 1);
});

test("normalizes case, accents, punctuation and legal suffixes", () => {
  assert.equal(normalizeName("  Calder & Voss Commodities, Ltd. "), "calder and voss commodities");
  assert.equal(normalizeName("Zoë Müller GmbH"), "zoe muller");
});

test("matches names in another word order", () => {
  assert.equal(nameSimilarity("Amsel, Viktor", "Viktor Amsel"), 1);
  assert.ok(nameSimilarity("Viktor Amsell", "Viktor Amsel") > 0.95);
  assert.ok(nameSimilarity("Harbour Foods", "Viktor Amsel") < 0.7);
});
