import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot, renderGeneratedConfigFiles } from '../../src/config/json-schema.ts';

// config/miyabi.schema.json and docs/CONFIGURATION.md are generated from the zod schema;
// regenerate with writeConfigSchema() (`npm run schema`) after changing it.
describe('files generated from the config schema', () => {
  for (const [relative, fresh] of Object.entries(renderGeneratedConfigFiles())) {
    it(`${relative} is up to date`, async () => {
      const committed = await readFile(join(packageRoot(), relative), 'utf8');
      expect(committed, `${relative} is stale: run writeConfigSchema() (npm run schema)`).toBe(fresh);
    });
  }

  it('the JSON Schema describes every field and refuses unknown keys', () => {
    const schema = JSON.parse(renderGeneratedConfigFiles()['config/miyabi.schema.json']!) as Record<string, unknown>;
    const undescribed: string[] = [];
    const open: string[] = [];
    const walk = (node: Record<string, unknown>, path: string) => {
      if (node.type === 'object' && node.additionalProperties !== false && typeof node.additionalProperties !== 'object') {
        open.push(path);
      }
      const properties = (node.properties ?? {}) as Record<string, Record<string, unknown>>;
      for (const [key, child] of Object.entries(properties)) {
        if (typeof child.description !== 'string') undescribed.push(`${path}${key}`);
        walk(child, `${path}${key}.`);
      }
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties as Record<string, unknown>, `${path}<name>.`);
    };
    walk(schema, '');
    expect(undescribed).toEqual([]);
    expect(open).toEqual([]);
  });
});
