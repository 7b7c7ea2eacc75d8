/**
 * Files generated from the zod schema, committed so editors and readers have them:
 * - `config/miyabi.schema.json`: JSON Schema (draft-07, which yaml-language-server and most
 *   editors understand) of the file as written — the input side, defaults included;
 * - `docs/CONFIGURATION.md`: the configuration reference (./reference.ts).
 * A test regenerates both and fails when the committed files differ.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { packageRoot } from '../package-root.ts';
import { renderConfigReference, type JsonSchemaNode } from './reference.ts';
import { configSchema } from './schema.ts';

export function configJsonSchema(): JsonSchemaNode {
  return z.toJSONSchema(configSchema, { io: 'input', target: 'draft-7' }) as JsonSchemaNode;
}

export function renderConfigSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

export { packageRoot };

export const generatedConfigFiles = {
  schema: 'config/miyabi.schema.json',
  reference: 'docs/CONFIGURATION.md',
} as const;

/** Renders every generated file: relative path → content. */
export function renderGeneratedConfigFiles(): Record<string, string> {
  return {
    [generatedConfigFiles.schema]: renderConfigSchema(),
    [generatedConfigFiles.reference]: renderConfigReference(configJsonSchema()),
  };
}

/** Writes config/miyabi.schema.json and docs/CONFIGURATION.md; returns the paths written. */
export async function writeConfigSchema(root: string = packageRoot()): Promise<string[]> {
  const written: string[] = [];
  for (const [relative, content] of Object.entries(renderGeneratedConfigFiles())) {
    const path = join(root, relative);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
    written.push(path);
  }
  return written;
}
