/**
 * The configured issue source: the local directory (embedded default) or GitHub.
 */
import type { Logger } from 'pino';
import { trackerDirOf } from '../config/paths.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import type { Secrets } from '../config/secrets.ts';
import { LocalIssueSource } from './local-source.ts';
import type { IssueSource } from './source.ts';

export function createIssueSource(config: OrchestraConfig, secrets: Secrets, logger: Logger): IssueSource {
  const { issues } = config;
  if (issues.source === 'local') {
    return new LocalIssueSource({ dir: issues.local.dir, trackerDir: trackerDirOf(config), logger });
  }
  throw new Error(`issue source ${issues.source} not available yet (${secrets.githubToken ? 'token set' : 'no token'})`);
}
