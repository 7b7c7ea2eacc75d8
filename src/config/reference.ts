/**
 * The configuration reference (docs/CONFIGURATION.md), rendered from the JSON Schema so that
 * every field's type, default and meaning come from the one place they are defined.
 */

/** A JSON Schema node, as far as the reference reads it (./json-schema.ts renders the schema). */
export interface JsonSchemaNode {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  additionalProperties?: boolean | JsonSchemaNode;
  items?: JsonSchemaNode;
  title?: string;
}

const intro = `# Configuration reference

<!-- Generated from src/config/schema.ts by writeConfigSchema() (\`npm run schema\`). Do not edit by hand: a test fails when this file is out of date. -->

Miyabi Orchestra reads one YAML file. \`miyabi-orchestra up\` and \`config check\` take it with
\`--config FILE\`; without it the shipped **embedded default**
([config/miyabi.yaml](../config/miyabi.yaml)) is used: an embedded nats-server, the local issue
source (\`examples/backlog\`) and the example agents. Every field below is optional: an empty
file is the embedded default.

Rules:

- **Unknown keys are errors**, naming the key (\`agents.codegen.comand: unknown key (did you mean
  "command"?)\`): a typo never falls back silently to a default. \`config check\` prints every
  problem at once, one line each, \`path: message (line N)\`, and exits 2 (the first 100, then
  how many more). A file over 1 MiB, and YAML aliases expanding past 100 nodes, are refused.
- **A valid config must also be workable**: \`config check\` refuses a stage whose role is not in
  \`agents\` (through \`workflow.stageRoles\`), a local issue directory that does not exist and an
  agent program that is not installed, naming the path; \`up\` logs them as warnings and serves
  what it can.
- **Secrets are never in the file.** Fields ending in \`Env\` hold the *name* of an environment
  variable (\`tokenEnv: NATS_TOKEN\`); the value is read at start, and a named variable that is
  unset is reported with the field and the variable.
- **Relative paths** (\`dataDir\`, \`nats.embedded.binary\` with a slash, \`nats.tls.*\`,
  \`issues.local.dir\`, \`agents.*.prompt\`) resolve against the directory of the config file.
  The embedded default resolves them against the current working directory, so \`.miyabi\` and
  \`examples/backlog\` are found where the orchestra is started. Agent commands are argv arrays
  and are not rewritten.
- **Durations** are integers in milliseconds (fields ending in \`Ms\`).
- **Editor completion**: [config/miyabi.schema.json](../config/miyabi.schema.json) is the JSON
  Schema of the file; with the YAML language server, start the file with
  \`# yaml-language-server: $schema=<path to>/miyabi.schema.json\`.

Under \`dataDir\`: the run file of a running orchestra, \`logs/orchestra.log\` (when \`log.file\`) and
the embedded NATS store (\`nats/\`).
`;

interface Row {
  path: string;
  node: JsonSchemaNode;
  required: boolean;
}

function rows(node: JsonSchemaNode, path: string, out: Row[]): void {
  const required = new Set(node.required ?? []);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const childPath = path === '' ? key : `${path}.${key}`;
    out.push({ path: childPath, node: child, required: required.has(key) });
    rows(child, childPath, out);
    if (typeof child.additionalProperties === 'object') {
      const entry = `${childPath}.<name>`;
      out.push({ path: entry, node: child.additionalProperties, required: false });
      rows(child.additionalProperties, entry, out);
    }
  }
}

function typeOf(node: JsonSchemaNode): string {
  if (node.enum !== undefined) return node.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (node.type === 'array') return `${node.items === undefined ? 'any' : typeOf(node.items)}[]`;
  if (node.type === 'object' && typeof node.additionalProperties === 'object') return 'map';
  let type = node.type ?? 'any';
  if (node.minimum !== undefined && node.minimum > 0) type += ` ≥ ${node.minimum}`;
  if (node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER) {
    type = node.minimum === undefined ? `${type} ≤ ${node.maximum}` : `${type}, ${node.minimum}–${node.maximum}`;
    type = type.replace(/ ≥ \d+, /, ', ');
  }
  return type;
}

function defaultOf(row: Row): string {
  if (row.required) return '**required**';
  if (row.path.endsWith('.<name>')) return '';
  const value = row.node.default;
  if (value === undefined) return 'unset';
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 0 && !Array.isArray(value)) {
    return '';
  }
  const json = JSON.stringify(value);
  return json.length > 40 ? 'see [config/miyabi.yaml](../config/miyabi.yaml)' : `\`${json}\``;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(rows: Row[]): string[] {
  return [
    '| Field | Type | Default | Meaning |',
    '| --- | --- | --- | --- |',
    ...rows.map(
      (r) => `| \`${r.path}\` | ${cell(typeOf(r.node))} | ${cell(defaultOf(r))} | ${cell(r.node.description ?? '')} |`,
    ),
  ];
}

export function renderConfigReference(schema: JsonSchemaNode): string {
  const all: Row[] = [];
  rows(schema, '', all);
  const scalars = all.filter((r) => !r.path.includes('.') && r.node.type !== 'object');
  const sections = [['## Top level', '', ...table(scalars)].join('\n')];
  for (const head of all.filter((r) => !r.path.includes('.') && r.node.type === 'object')) {
    // The section's own row only when it says more than the heading (a default worth showing).
    const body = all.filter((r) => r.path.startsWith(`${head.path}.`) || (r === head && defaultOf(r) !== ''));
    const lead = (head.node.description ?? '').replace(/\.?$/, '.');
    sections.push([`## \`${head.path}\``, '', lead, '', ...table(body)].join('\n'));
  }
  return `${intro}\n${sections.join('\n\n')}\n`;
}
