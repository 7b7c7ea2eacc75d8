/**
 * The configured issue source: the local directory (embedded default) or GitHub.
 */
import type { Logger } from 'pino';
import { trackerDirOf } from '../config/paths.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import type { Secrets } from '../config/secrets.ts';
import type { GitHubOutage } from './github-client.ts';
import { GitHubIssueSource } from './github-source.ts';
import { LocalIssueSource, type LocalRepository } from './local-source.ts';
import type { IssueSource } from './source.ts';

export interface SourceHooks {
  /** A GitHub request waited (rate limit) or failed and is retried; or recovered. */
  onOutage?: (outage: GitHubOutage) => void;
  /** A GitHub answer's rate-limit headers. */
  onRateLimit?: (resource: string, remaining: number, limit: number) => void;
  /** The local source's merges into the workspace repository (src/workflow/workspace-git.ts). */
  localRepository?: LocalRepository;
  /** The installation's secret that signs GitHub comment markers (src/issues/github/comments.ts). */
  markerKey?: string;
}

export function createIssueSource(config: OrchestraConfig, secrets: Secrets, logger: Logger, hooks: SourceHooks = {}): IssueSource {
  const { issues } = config;
  if (issues.source === 'github' && issues.github) {
    // resolveSecrets has already refused a config whose token variable is unset.
    if (!secrets.githubToken) throw new Error(`environment variable ${issues.github.tokenEnv} is not set (issues.github.tokenEnv)`);
    return new GitHubIssueSource({
      owner: issues.github.owner,
      repo: issues.github.repo,
      baseUrl: issues.github.baseUrl,
      token: secrets.githubToken,
      logger,
      ...(issues.github.spaceWrites ? {} : { client: { writeSpacing: false } }),
      ...(hooks.onOutage ? { onOutage: hooks.onOutage } : {}),
      ...(hooks.onRateLimit ? { onRateLimit: hooks.onRateLimit } : {}),
      ...(hooks.markerKey ? { markerKey: hooks.markerKey } : {}),
      ...(issues.github.login ? { login: issues.github.login } : {}),
    });
  }
  return new LocalIssueSource({
    dir: issues.local.dir,
    trackerDir: trackerDirOf(config),
    logger,
    ...(hooks.localRepository ? { repository: hooks.localRepository } : {}),
  });
}
