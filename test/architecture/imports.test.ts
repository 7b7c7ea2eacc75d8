/**
 * The import rules of docs/ARCHITECTURE.md (Layers), as written in .dependency-cruiser.cjs: no
 * import circle in src/ (type-only imports included), and every import pointing down the layers.
 * A failure lists each offending import as `rule: from → to`, circles with their whole path.
 */
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

function describeViolation(violation: IViolation): string {
  const path = violation.cycle?.length ? [violation.from, ...violation.cycle.map((step) => step.name)].join(' → ') : `${violation.from} → ${violation.to}`;
  return `${violation.rule.name}: ${path}`;
}

describe('imports in src/', () => {
  let result: ICruiseResult;
  let layerRules: Array<{ name: string; from: RegExp; except: RegExp | undefined }>;

  beforeAll(async () => {
    const options = await extractDepcruiseOptions(`${root}.dependency-cruiser.cjs`);
    const tsConfig = extractTSConfig(`${root}tsconfig.json`);
    const reported = await cruise(['src'], { ...options, baseDir: root }, {}, { tsConfig });
    result = reported.output as ICruiseResult;
    layerRules = (options.ruleSet?.forbidden ?? [])
      .filter((rule) => rule.name?.startsWith('layer-'))
      .map((rule) => {
        const { path, pathNot } = rule.from as { path: string; pathNot?: string };
        return { name: rule.name!, from: new RegExp(path), except: pathNot === undefined ? undefined : new RegExp(pathNot) };
      });
  });

  it('has no circle and no import against the layers', () => {
    const violations = result.summary.violations.map(describeViolation);
    expect(violations, 'imports against the rules of .dependency-cruiser.cjs (docs/ARCHITECTURE.md, Layers)').toEqual([]);
  });

  it('puts every module in a layer, except the interface (src/cli/, src/runner/main.ts)', () => {
    const interfaceModules = /^src\/cli\/|^src\/runner\/main\.ts$/;
    const outside = result.modules
      .map((module) => module.source)
      .filter((source) => source.startsWith('src/') && !interfaceModules.test(source))
      .filter((source) => !layerRules.some((rule) => rule.from.test(source) && !rule.except?.test(source)));
    expect(layerRules.length).toBeGreaterThan(10);
    expect(outside, 'modules no layer rule covers: add their folder to .dependency-cruiser.cjs and docs/ARCHITECTURE.md').toEqual([]);
  });
});
