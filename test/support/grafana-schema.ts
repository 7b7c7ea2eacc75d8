/**
 * A Grafana dashboard's JSON checked against the dashboard schema `@grafana/schema` ships, offline.
 * The package ships the schema as TypeScript types (generated from Grafana's CUE schema), not as a
 * JSON Schema: the dashboard is checked by the TypeScript compiler, as the object literal it is,
 * with `satisfies` — every field must exist in the schema (excess properties are errors) and have
 * its type. What is checked:
 *
 *   the dashboard            `Dashboard` (uid, title, time, templating, annotations, links …)
 *   each row                 `RowPanel`
 *   each stat panel          `Panel` with the stat panel's `Options` and field config
 *   each timeseries panel    `Panel` with the time series panel's `Options` and `FieldConfig` as `custom`
 *   each target              `DataQuery` (refId, datasource, hide …) plus the data source's own
 *                            fields, which the package has no schema for (Prometheus's `expr` …)
 *
 * String enums of the schema (a threshold's mode …) are compared by their values, as JSON has
 * no enums. Answers the compiler's messages, each with the line of the JSON it is about.
 */
import ts from 'typescript';
import { join } from 'node:path';
import { repoRoot } from './cli.ts';

const PRELUDE = `import type { Dashboard, DataQuery, Panel, RowPanel } from '@grafana/schema';
import type * as Stat from '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen';
import type * as TimeSeries from '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen';
type Json<T> = T extends string ? \`\${T}\` : T extends readonly (infer U)[] ? Json<U>[] : T extends object ? { [K in keyof T]: Json<T[K]> } : T;
type Target = DataQuery & { [field: string]: unknown };
type PanelOf<Type extends string, Options, Custom> = Omit<Panel<Options, Custom>, 'type' | 'targets' | 'options'> & { type: Type; targets?: Target[]; options?: Partial<Options> };
type CheckedPanel = PanelOf<'stat', Stat.Options, Record<string, unknown>> | PanelOf<'timeseries', TimeSeries.Options, TimeSeries.FieldConfig> | (Omit<RowPanel, 'type'> & { type: 'row' });
type CheckedDashboard = Json<Omit<Dashboard, 'panels'> & { panels: CheckedPanel[] }>;
const dashboard = `;

/** The libraries' and the schema's parsed files, shared by every check: they never change, and parsing them is most of a check's time. */
const libraryFiles = new Map<string, ts.SourceFile | undefined>();

export function grafanaSchemaProblems(json: string): string[] {
  JSON.parse(json); // JSON first: the TypeScript parser is more lenient
  const file = join(repoRoot, 'test/support/__grafana-dashboard-check__.ts');
  const text = `${PRELUDE}${json.trim()} satisfies CheckedDashboard;\nexport default dashboard;\n`;
  const options: ts.CompilerOptions = { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true, types: [] };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = ((exists) => (name: string) => name === file || exists(name))(host.fileExists.bind(host));
  host.readFile = (name) => (name === file ? text : readFile(name));
  host.getSourceFile = (name, language, ...rest) => {
    if (name === file) return ts.createSourceFile(name, text, language, true);
    if (!libraryFiles.has(name)) libraryFiles.set(name, getSourceFile(name, language, ...rest));
    return libraryFiles.get(name);
  };
  const program = ts.createProgram([file], options, host);
  const preludeLines = PRELUDE.split('\n').length - 1;
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (diagnostic.file?.fileName !== file || diagnostic.start === undefined) return message;
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    return `line ${line - preludeLines + 1}: ${message}`;
  });
}
