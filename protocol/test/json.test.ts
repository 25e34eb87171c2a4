// Tests of the safe JSON decoder: UTF-8 byte counting, the size and depth limits at their edges,
// forbidden keys, and the paths its refusals name.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  MAX_JSON_DEPTH,
  jsonShapeProblem,
  parseJson,
  utf8ByteLength,
} from "../src/json.ts";

/** `depth` levels of arrays around 0: depth 1 is `[0]`. */
const nested = (depth: number): unknown => {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
};

describe("utf8ByteLength", () => {
  test("counts as TextEncoder writes, at every encoding boundary and for lone surrogates", () => {
    const samples = [
      "",
      "a",
      "\x7f",
      "\x80",
      "ß",
      "\u07ff",
      "\u0800",
      "€",
      "\ud7ff",
      "\ue000",
      "\uffff",
      "😀",
      "\udbff\udfff",
      "\ud800",
      "a\ud800",
      "\ud800a",
      "\udc00",
      "\udfff\ud800",
      "\ud800\ud800\udc00",
      "\ud800€",
      "\ud800\ud800",
      "€\udc00",
      "\ue000\udc00",
      "\udc00\udc00",
      "mixed ß € 😀 text",
    ];
    for (const text of samples)
      assert.equal(
        utf8ByteLength(text),
        new TextEncoder().encode(text).length,
        JSON.stringify(text),
      );
  });
});

describe("jsonShapeProblem", () => {
  test("accepts primitives, null and nesting up to the limit, and refuses one level more", () => {
    for (const value of [null, 1, "x", true, undefined])
      assert.equal(jsonShapeProblem(value), undefined);
    assert.equal(jsonShapeProblem(nested(MAX_JSON_DEPTH)), undefined);
    assert.equal(
      jsonShapeProblem(nested(MAX_JSON_DEPTH + 1))?.message,
      `${"[0]".repeat(MAX_JSON_DEPTH)}: nesting is deeper than 32 levels`,
    );
    assert.equal(jsonShapeProblem(nested(3), 3), undefined);
    assert.equal(
      jsonShapeProblem(nested(4), 3)?.message,
      "[0][0][0]: nesting is deeper than 3 levels",
    );
  });

  test("counts objects and arrays alike, and names the path through both", () => {
    const value = { a: { b: [{ c: {} }] } };
    assert.equal(jsonShapeProblem(value, 5), undefined);
    const problem = jsonShapeProblem(value, 4);
    assert.equal(problem?.field, "a.b[0].c");
    assert.equal(problem?.code, "bad_request");
  });

  test("refuses __proto__ and constructor.prototype at any depth, naming where", () => {
    const proto = JSON.parse('{"a":[{"b":{"__proto__":{"x":1}}}]}') as unknown;
    assert.equal(jsonShapeProblem(proto)?.message, "a[0].b.__proto__: this key is not allowed");
    assert.equal(
      jsonShapeProblem({ list: [{ constructor: { prototype: {} } }] })?.field,
      "list[0].constructor.prototype",
    );
    assert.equal(
      jsonShapeProblem(JSON.parse('{"__proto__":1}'))?.message,
      "__proto__: this key is not allowed",
      "whatever its value",
    );
  });

  test("allows a constructor key that cannot reach a prototype", () => {
    assert.equal(jsonShapeProblem({ constructor: "Ada" }), undefined);
    assert.equal(jsonShapeProblem({ constructor: { name: "Ada" } }), undefined);
    assert.equal(jsonShapeProblem({ constructor: null }), undefined);
    assert.equal(jsonShapeProblem({ prototype: {} }), undefined);
  });

  test("visits every item and key, not only the first or last", () => {
    const deepAt = (index: number) => {
      const list: unknown[] = [0, 0, 0];
      list[index] = nested(4);
      return { x: 1, list, y: 2 };
    };
    for (const index of [0, 1, 2])
      assert.equal(jsonShapeProblem(deepAt(index), 4)?.field, `list[${index}][0][0]`);
    const objects = { p: {}, q: { bad: JSON.parse('{"__proto__":{}}') as unknown }, r: {} };
    assert.equal(jsonShapeProblem(objects)?.field, "q.bad.__proto__");
  });
});

describe("parseJson", () => {
  test("accepts a message of exactly the byte limit and refuses one byte more", () => {
    const text = (bytes: number) => JSON.stringify("x".repeat(bytes - 2));
    assert.ok(parseJson(text(100), { maxBytes: 100 }).ok);
    const over = parseJson(text(101), { maxBytes: 100 });
    assert.equal(
      over.ok ? "ok" : over.error.message,
      "message is 101 bytes, larger than the limit of 100",
    );
    assert.ok(parseJson(text(DEFAULT_MAX_MESSAGE_BYTES)).ok);
    assert.equal(parseJson(text(DEFAULT_MAX_MESSAGE_BYTES + 1)).ok, false);
  });

  test("counts multi-byte text in UTF-8 bytes, also when its length alone looks small", () => {
    // 40 characters of 3 bytes each: 120 bytes + 2 quotes, over a limit of 100 though 42 * 2 < 100.
    const wide = JSON.stringify("€".repeat(40));
    const refused = parseJson(wide, { maxBytes: 100 });
    assert.equal(
      refused.ok ? "ok" : refused.error.message,
      "message is 122 bytes, larger than the limit of 100",
    );
    // 30 of them: 92 bytes, within 100 although 32 * 3 > 100 asks for a real count.
    assert.ok(parseJson(JSON.stringify("€".repeat(30)), { maxBytes: 100 }).ok);
    assert.ok(parseJson(JSON.stringify("a".repeat(32)), { maxBytes: 100 }).ok);
  });

  test("takes the caller's byte length when given instead of counting", () => {
    assert.equal(parseJson('"a"', { maxBytes: 10, byteLength: 11 }).ok, false);
    assert.ok(parseJson(JSON.stringify("€".repeat(40)), { maxBytes: 100, byteLength: 100 }).ok);
  });

  test("refuses what is not text, not JSON, or too deep, saying which", () => {
    const message = (result: ReturnType<typeof parseJson>) =>
      result.ok ? "ok" : result.error.message;
    assert.equal(message(parseJson(42 as unknown as string)), "message must be text");
    assert.match(message(parseJson("{")), /^not valid JSON \(.+\)$/);
    assert.equal(
      message(parseJson("[[[1]]]", { maxDepth: 2 })),
      "[0][0]: nesting is deeper than 2 levels",
    );
    assert.deepEqual(parseJson('{"a":[1,{"b":null}]}'), {
      ok: true,
      value: { a: [1, { b: null }] },
    });
  });
});

describe("json surviving cases", () => {
  test("counts a lone high surrogate as 3 bytes and the character after it on its own", () => {
    // U+FFFD for the lone surrogate (3 bytes), then é (2 bytes), as Buffer.byteLength counts.
    assert.equal(utf8ByteLength("\ud800\u00e9"), 5);
    assert.equal(utf8ByteLength("\ud800\u00e9"), Buffer.byteLength("\ud800\u00e9"));
    // Past the low surrogates (U+E000, 3 bytes): still no pair.
    assert.equal(utf8ByteLength("\ud800\ue000"), 6);
  });

  test("accepts arrays of null and primitives, and nested objects under ordinary keys", () => {
    const text = '{"a":{"b":{"c":1}},"d":[null,1,"s",true,{"e":[null]}]}';
    const parsed = parseJson(text);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, JSON.parse(text));
    assert.equal(jsonShapeProblem([null, 0, "x"]), undefined);
    // Only constructor.prototype is refused: a "prototype" key elsewhere is data.
    assert.ok(parseJson('{"a":{"prototype":1}}').ok);
  });
});
