/**
 * Where a config path stands in the YAML text, so a problem can name its line.
 */
import { isAlias, isMap, isScalar, isSeq, visit, type Document, type LineCounter, type Node, type Pair, type YAMLMap } from 'yaml';

export interface Position {
  line: number;
  column: number;
}

/**
 * Each mapping's entries by key, built once per mapping: a config with tens of thousands of
 * unknown keys has as many problems, and a scan of the mapping per problem made validation
 * quadratic (64k keys: 36 s).
 */
const keyIndexes = new WeakMap<YAMLMap, Map<string, Pair>>();
function entryOf(map: YAMLMap, key: PropertyKey): Pair | undefined {
  let index = keyIndexes.get(map);
  if (index === undefined) {
    index = new Map();
    for (const item of map.items) {
      if (!isScalar(item.key)) continue;
      const name = String(item.key.value);
      // The first entry of a duplicated key, as a scan would have found.
      if (!index.has(name)) index.set(name, item as Pair);
    }
    keyIndexes.set(map, index);
  }
  return index.get(String(key));
}

/**
 * The position of the deepest part of `path` present in the document: the key of a mapping
 * entry (`command:` for `agents.codegen.command`), an item of a sequence, or — for a key that
 * is missing — the key of the mapping that should hold it.
 */
export function positionOf(
  doc: Document,
  lineCounter: LineCounter,
  path: readonly PropertyKey[],
): Position | undefined {
  let node: unknown = doc.contents;
  let offset: number | undefined;
  for (const key of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = entryOf(node as YAMLMap, key);
      if (pair === undefined) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
      offset = (node as Node | undefined)?.range?.[0] ?? offset;
    } else {
      break;
    }
  }
  if (offset === undefined) return undefined;
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/**
 * The offset of each key that repeats an earlier key of its mapping. yaml's own check
 * (`uniqueKeys`) compares each key with every earlier one, quadratic in a mapping's size.
 */
export function duplicateKeyOffsets(doc: Document): number[] {
  const offsets: number[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<string>();
      for (const item of map.items) {
        if (!isScalar(item.key)) continue;
        const name = String(item.key.value);
        if (seen.has(name)) offsets.push(item.key.range?.[0] ?? 0);
        seen.add(name);
      }
    },
  });
  return offsets;
}
