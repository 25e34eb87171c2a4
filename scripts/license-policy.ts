// Which licenses jobchannel may ship: an SPDX expression judged against a deny list and an allow list.

/**
 * Licenses whose terms would reach jobchannel's users through the relay, worker, operator or client
 * images and packages: the strong copyleft families (GPL, LGPL, AGPL) and the SSPL.
 */
export const FORBIDDEN = /^(A|L)?GPL-|^SSPL-/;

/** Permissive (and file-level copyleft, MPL-2.0) licenses accepted without review. */
export const ALLOWED: ReadonlySet<string> = new Set([
  "0BSD",
  "Apache-2.0",
  "BlueOak-1.0.0",
  "BSD-2-Clause",
  "BSD-3-Clause",
  "CC-BY-4.0",
  "CC0-1.0",
  "ISC",
  "MIT",
  "MIT-0",
  "MPL-2.0",
  "PSF-2.0",
  "Python-2.0",
  "Unlicense",
  "Zlib",
]);

/** The verdict on one package's license. */
export type Verdict =
  | { readonly kind: "allowed"; readonly license: string }
  | { readonly kind: "forbidden"; readonly license: string; readonly reason: string }
  | { readonly kind: "unknown"; readonly license: string; readonly reason: string };

type Node =
  | { readonly op: "id"; readonly id: string }
  | { readonly op: "and" | "or"; readonly left: Node; readonly right: Node };

/** Splits an SPDX expression into identifiers, AND, OR, WITH and parentheses. */
function tokens(expression: string): string[] {
  return expression.replace(/[()]/g, " $& ").trim().split(/\s+/).filter(Boolean);
}

/**
 * Parses an SPDX license expression (`MIT`, `(MIT OR GPL-3.0-only)`, `Apache-2.0 AND BSD-3-Clause`,
 * `GPL-2.0-only WITH Classpath-exception-2.0`); AND binds tighter than OR. A `WITH` exception is
 * kept on its license's identifier (`GPL-2.0-only WITH ...` is still GPL). Returns undefined when
 * the text is not an expression (`SEE LICENSE IN ...`, `UNLICENSED`, an empty string).
 */
export function parseExpression(expression: string): Node | undefined {
  const list = tokens(expression);
  let at = 0;
  const identifier = /^[A-Za-z0-9.+-]+$/;
  function atom(): Node | undefined {
    const token = list[at];
    if (token === "(") {
      at += 1;
      const inner = or();
      if (list[at] !== ")") return undefined;
      at += 1;
      return inner;
    }
    if (token === undefined || !identifier.test(token) || /^(AND|OR|WITH)$/i.test(token))
      return undefined;
    at += 1;
    if (list[at]?.toUpperCase() === "WITH") {
      const exception = list[at + 1];
      if (exception === undefined || !identifier.test(exception)) return undefined;
      at += 2;
    }
    return { op: "id", id: token.replace(/\+$/, "") };
  }
  /** One precedence level: `next (OP next)*`, folded to the left. */
  const level = (op: "and" | "or", next: () => Node | undefined) => (): Node | undefined => {
    let left = next();
    while (left && list[at]?.toLowerCase() === op) {
      at += 1;
      const right = next();
      left = right && { op, left, right };
    }
    return left;
  };
  // AND binds tighter than OR; `or` is called through `atom` for parentheses, so it is hoisted.
  function or(): Node | undefined {
    return level("or", level("and", atom))();
  }
  const tree = or();
  return tree && at === list.length ? tree : undefined;
}

/** "allowed" < "unknown" < "forbidden": how bad a part of an expression is. */
const RANK = { allowed: 0, unknown: 1, forbidden: 2 } as const;
type Kind = keyof typeof RANK;

function judge(node: Node): { kind: Kind; culprit: string } {
  if (node.op === "id") {
    if (FORBIDDEN.test(node.id)) return { kind: "forbidden", culprit: node.id };
    return { kind: ALLOWED.has(node.id) ? "allowed" : "unknown", culprit: node.id };
  }
  const left = judge(node.left);
  const right = judge(node.right);
  // OR: the shipper may choose, so the better side counts; AND: both apply, so the worse one.
  const pickLeft =
    node.op === "or" ? RANK[left.kind] <= RANK[right.kind] : RANK[left.kind] >= RANK[right.kind];
  return pickLeft ? left : right;
}

/**
 * The verdict on a package's declared license (the `license` field of its package.json or lock
 * entry; `licenses: [{type}]` arrays are joined with OR by the caller). Missing or unparsable
 * declarations are unknown: a person has to read the package's license file.
 */
export function licenseVerdict(declared: string | undefined): Verdict {
  const license = declared?.trim() ?? "";
  if (license === "") return { kind: "unknown", license: "(none)", reason: "no license declared" };
  const tree = parseExpression(license);
  if (!tree) return { kind: "unknown", license, reason: "not an SPDX expression" };
  const { kind, culprit } = judge(tree);
  if (kind === "allowed") return { kind, license };
  if (kind === "forbidden") return { kind, license, reason: `${culprit} is copyleft (denied)` };
  return { kind, license, reason: `${culprit} is on neither list` };
}
