// The chart README's values table: generated from values.yaml's `# --` comments, and kept up to date.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  documentValues,
  generatedReadme,
  renderValuesTable,
  replaceValuesTable,
  TABLE_BEGIN,
  TABLE_END,
} from "../src/chart-values-doc.ts";

describe("the chart's values table", () => {
  it("lists a documented key with its whole default, and the keys of an undocumented map one by one", () => {
    const { docs, problems } = documentValues(
      [
        "# Plain comments are not documentation.",
        "# -- Replicas.",
        "replicas: 2",
        "relay:",
        "  # -- The image, registry/repository:tag.",
        "  image:",
        "    repository: jobchannel/relay",
        "    # -- an inner comment belongs to the documented value above",
        '    tag: ""',
        "  # -- Origins; empty = any.",
        "  # Continued on a second line.",
        "  allowedOrigins: []",
        "",
        "# -- Off by default.",
        "enabled: false",
      ].join("\n"),
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(docs, [
      { path: "replicas", default: 2, description: "Replicas." },
      {
        path: "relay.image",
        default: { repository: "jobchannel/relay", tag: "" },
        description: "The image, registry/repository:tag.",
      },
      {
        path: "relay.allowedOrigins",
        default: [],
        description: "Origins; empty = any. Continued on a second line.",
      },
      { path: "enabled", default: false, description: "Off by default." },
    ]);
  });

  it("names every value that has no `# --` comment, with its line", () => {
    const { problems } = documentValues(
      [
        "# A plain comment.",
        "replicas: 2",
        "relay:",
        "  # -- Documented.",
        "  port: 8080",
        "  type: ClusterIP",
      ].join("\n"),
    );
    assert.deepEqual(problems, [
      'values.yaml line 2: replicas has no "# --" comment',
      'values.yaml line 6: relay.type has no "# --" comment',
    ]);
  });

  it("writes defaults as JSON and escapes what Markdown would misread", () => {
    const table = renderValuesTable([
      { path: "a", default: "x|y", description: "a <b> c | d `<e>`" },
    ]);
    assert.equal(table.split("\n")[2], '| `a` | `"x\\|y"` | a &lt;b&gt; c \\| d `<e>` |');
    assert.equal(
      replaceValuesTable(`intro\n${TABLE_BEGIN}\nold\n${TABLE_END}\nrest`, "new"),
      `intro\n${TABLE_BEGIN}\nnew\n${TABLE_END}\nrest`,
    );
  });

  it("documents every value of charts/jobchannel/values.yaml, and README.md holds the table as generated", async () => {
    const { current, generated, problems } = await generatedReadme();
    assert.deepEqual(problems, [], "every value of values.yaml has a `# --` comment");
    assert.ok(
      current === generated,
      "charts/jobchannel/README.md's values table is out of date: run `make chart-docs`",
    );
  });
});
