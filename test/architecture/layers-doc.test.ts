/**
 * The Layers tables of docs/ARCHITECTURE.md say the same as the rules of .dependency-cruiser.cjs
 * (which test/architecture/imports.test.ts enforces): each layer's folder and what it may import,
 * each package inside src/infra with its files and what it may import. A layer, a package or an
 * allowed import changed on one side only fails here, naming it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);

interface Rule {
  name?: string;
  from: { path: string };
  to: { pathNot?: string[] };
}

/** The `layer-*` rules: a layer's folder (`from`) and what it may import besides it (`to.pathNot` after itself). */
const cruiserLayers = new Map(
  ((require(join(root, '.dependency-cruiser.cjs')) as { forbidden: Rule[] }).forbidden)
    .filter((rule) => rule.name?.startsWith('layer-'))
    .map((rule) => [rule.name!.slice('layer-'.length), { from: rule.from.path, may: (rule.to.pathNot ?? []).slice(1).sort() }]),
);
const ROOT = cruiserLayers.get('root')!.from;
const INFRA_SHARED = cruiserLayers.get('infra-shared')!.from;
const folder = (path: string) => `^${path}`;

const doc = readFileSync(join(root, 'docs/ARCHITECTURE.md'), 'utf8');
const layersSection = doc.slice(doc.indexOf('## Layers'), doc.indexOf('\n## ', doc.indexOf('## Layers') + 1));

/** The section's tables, by the first header cell: their rows as trimmed cells, header and rule left out. */
function tables(text: string): Map<string, string[][]> {
  const found = new Map<string, string[][]>();
  let rows: string[][] | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith('|')) {
      rows = undefined;
      continue;
    }
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    if (!rows) found.set(cells[0]!, (rows = []));
    else if (!/^-+$/.test(cells[0]!)) rows.push(cells);
  }
  return found;
}

const backticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
const { layerRows, packageRows } = (() => {
  const found = tables(layersSection);
  return { layerRows: found.get('layer') ?? [], packageRows: found.get('package') ?? [] };
})();

describe('docs/ARCHITECTURE.md, Layers, and .dependency-cruiser.cjs', () => {
  it('give every layer the same folder and the same allowed imports', () => {
    expect(layerRows.length).toBeGreaterThan(10);
    /** Each row's folder pattern, as the config writes it: the shared root modules, or `^src/<folder>/`. */
    const patternOf = new Map<string, string>();
    const documented: Array<{ layer: string; from: string; may: string[] }> = [];
    for (const [layer, where, , mayImport] of layerRows as Array<[string, string, string, string]>) {
      const paths = backticked(where).filter((path) => path.startsWith('src/'));
      const from = paths.every((path) => /^src\/[^/]+\.ts$/.test(path)) ? ROOT : folder(paths.find((path) => path.endsWith('/'))!);
      const earlier = [...patternOf.values()];
      patternOf.set(layer, from);
      // The interface may import anything and has no rule; src/infra has one per package (below).
      if (mayImport.startsWith('anything') || from === folder('src/infra/')) continue;
      const may =
        mayImport === 'all of the above'
          ? earlier
          : mayImport.startsWith('—')
            ? []
            : mayImport.split(',').map((name) => {
                const pattern = patternOf.get(name.trim());
                if (!pattern) throw new Error(`layer ${layer} may import "${name.trim()}", which is no layer above it`);
                return pattern;
              });
      documented.push({ layer, from, may: may.sort() });
    }
    const configured = [...cruiserLayers].filter(([name]) => !name.startsWith('infra-')).map(([, { from, may }]) => ({ from, may }));
    expect(
      documented.map(({ from, may }) => ({ from, may })).sort((a, b) => a.from.localeCompare(b.from)),
      'each layer (folder) and what it may import: the Layers table (left) against the layer rules of .dependency-cruiser.cjs',
    ).toEqual(configured.sort((a, b) => a.from.localeCompare(b.from)));
  });

  it('give every package of src/infra the same allowed imports, and list its files', () => {
    expect(packageRows.length).toBeGreaterThan(5);
    const documented = packageRows.map(([name, files, mayImport]) => {
      const pkg = backticked(name!)[0]!;
      const packages = backticked(mayImport!).map((other) => folder(`src/infra/${other}/`));
      // "Helpers at the top of src/infra/ … may be used by every package but `os`" (the prose below the table).
      const shared = pkg === 'os' ? [ROOT] : [ROOT, INFRA_SHARED];
      return { pkg, from: folder(`src/infra/${pkg}/`), may: [...shared, ...packages].sort(), files: backticked(files!).filter((file) => file.endsWith('.ts')).sort() };
    });
    const configured = [...cruiserLayers]
      .filter(([name]) => name.startsWith('infra-') && name !== 'infra-shared')
      .map(([, { from, may }]) => ({ from, may }))
      .sort((a, b) => a.from.localeCompare(b.from));
    expect(
      documented.map(({ from, may }) => ({ from, may })).sort((a, b) => a.from.localeCompare(b.from)),
      'each src/infra package and what it may import: the package table (left) against the infra-* rules of .dependency-cruiser.cjs',
    ).toEqual(configured);
    // The helpers at the top use only the shared modules.
    expect(cruiserLayers.get('infra-shared')!.may).toEqual([ROOT]);
    for (const { pkg, files } of documented) {
      const present = readdirSync(join(root, 'src/infra', pkg)).filter((file) => file.endsWith('.ts')).sort();
      expect(files, `the files of src/infra/${pkg}/ in docs/ARCHITECTURE.md`).toEqual(present);
    }
  });
});
