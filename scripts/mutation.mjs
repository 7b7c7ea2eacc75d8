#!/usr/bin/env node
// `npm run mutation [-- stryker's options]`: `stryker run` with those options, then each file's
// own score. Stryker's `thresholds.break` applies to the score of all files together, so one
// module could sit far below it while the total passes: this reads the JSON report and fails
// naming every mutated file whose own score is below the break threshold. `--report FILE` only
// checks a report already written. Score as Stryker counts it: (killed + timed out) / (those + survived + no coverage);
// mutants that do not compile, that error at run time, or that are ignored are left out.
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
// A config file given to `stryker run` (stryker.static.config.mjs) may name its own report.
const configFile = args.find((arg, at) => /\.m?js$/.test(arg) && !args[at - 1]?.startsWith('-'));
const config = configFile ? (await import(pathToFileURL(configFile).href)).default : {};
let file = config.jsonReporter?.fileName ?? 'reports/mutation/mutation.json';
if (args[0] === '--report') file = args[1];
else {
  const run = spawnSync('npx', ['stryker', 'run', ...args], { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
const report = JSON.parse(await readFile(file, 'utf8'));
const limit = report.thresholds?.break ?? 85;
const rows = Object.entries(report.files).map(([file, { mutants }]) => {
  const count = (...statuses) => mutants.filter((mutant) => statuses.includes(mutant.status)).length;
  const detected = count('Killed', 'Timeout');
  const valid = detected + count('Survived', 'NoCoverage');
  return { file, score: valid === 0 ? 100 : (100 * detected) / valid, valid };
});
for (const { file, score, valid } of rows) process.stdout.write(`${score.toFixed(2).padStart(6)} %  ${file} (${valid} mutants)\n`);
const below = rows.filter((row) => row.score < limit);
if (below.length > 0) {
  process.stderr.write(`below the break threshold of ${limit} %: ${below.map((row) => `${row.file} (${row.score.toFixed(2)} %)`).join(', ')}\n`);
  process.exit(1);
}
