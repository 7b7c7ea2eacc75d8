/**
 * "Did you mean …?" for an unknown config key: the known keys of the object at that path,
 * read from the zod schema itself, the closest by edit distance (case, `_` and `-` ignored).
 */
import type { z } from 'zod';

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
};

function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** The object schema at `path`, seen through optional/default/pipe wrappers. */
function schemaAt(root: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let node: z.ZodType | undefined = root;
  let i = 0;
  while (node !== undefined) {
    const def = defOf(node);
    if (def.innerType !== undefined) node = def.innerType;
    else if (def.type === 'pipe') node = def.in;
    else if (i === path.length) return node;
    else if (def.type === 'object') node = def.shape?.[String(path[i++])];
    else if (def.type === 'record') (node = def.valueType), i++;
    else if (def.type === 'array') (node = def.element), i++;
    else return undefined;
  }
  return undefined;
}

/** Edit distance counting a swap of two neighbours as one edit (optimal string alignment). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

const normal = (key: string) => key.toLowerCase().replace(/[-_]/g, '');

/** The known key closest to `key` in the object at `path`, if one is close enough. */
export function suggestKey(root: z.ZodType, path: readonly PropertyKey[], key: string): string | undefined {
  const node = schemaAt(root, path);
  const shape = node === undefined ? undefined : defOf(node).shape;
  if (shape === undefined) return undefined;
  let best: { key: string; score: number } | undefined;
  for (const known of Object.keys(shape)) {
    const score = distance(normal(key), normal(known));
    if (best === undefined || score < best.score) best = { key: known, score };
  }
  const tolerance = Math.max(1, Math.floor(key.length / 4));
  return best !== undefined && best.score <= tolerance ? best.key : undefined;
}
