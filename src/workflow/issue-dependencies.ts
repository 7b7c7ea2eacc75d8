/**
 * An issue's dependencies as the watcher (and `dag check`) reads them, from three places:
 *
 *   the body            `depends on #12`, `blocked by acme/widgets#7`, a link to the issue …
 *                       (src/issues/dependencies.ts)
 *   the tracker         `dependsOn` (the local source's front matter), and GitHub's own
 *                       "blocked by" relationships (`source.blockedBy`), asked only when the
 *                       issue changed: the answer is kept per issue by its `updatedAt`
 *   (the dependency file is added by the workflow: workflow.dependenciesFile)
 *
 * The orchestra works one repository. A dependency on an issue of another one (`other/repo#3`,
 * in the body or in GitHub's relationships) is ignored, with one info line per issue, again only
 * when what it names elsewhere changes (not at every label the orchestra sets on it):
 * `dependency on another repository ignored: other/repo#3`. Our own repository named in full
 * (`acme/widgets#12`, on GitHub) is the same as `#12`.
 */
import type { Logger } from 'pino';
import type { OrchestraConfig } from '../config/schema.ts';
import { parseBodyReferences } from '../issues/dependencies.ts';
import type { IssueSource, TrackedIssue } from '../issues/source.ts';

/** `owner/repo` of the tracker, when it has one (GitHub); the local source has none. */
export function trackerRepository(config: Pick<OrchestraConfig, 'issues'>): string | undefined {
  const { github } = config.issues;
  return config.issues.source === 'github' && github ? `${github.owner}/${github.repo}` : undefined;
}

/** The issue's dependencies on this repository's issues (sorted, itself left out), and the others named. */
export function dependenciesOf(
  issue: Pick<TrackedIssue, 'number' | 'body' | 'dependsOn'>,
  options: { repository?: string; blockedBy?: { numbers: readonly number[]; elsewhere: readonly string[] } } = {},
): { dependsOn: number[]; elsewhere: string[] } {
  const body = parseBodyReferences(issue.body, options.repository);
  const dependsOn = [...new Set([...body.numbers, ...(issue.dependsOn ?? []), ...(options.blockedBy?.numbers ?? [])])]
    .filter((dependency) => dependency !== issue.number)
    .sort((a, b) => a - b);
  return { dependsOn, elsewhere: [...new Set([...body.elsewhere, ...(options.blockedBy?.elsewhere ?? [])])] };
}

export interface DependencyReaderOptions {
  source: Pick<IssueSource, 'blockedBy'>;
  logger: Logger;
  /** `owner/repo` of the tracker (trackerRepository). */
  repository: string | undefined;
}

/**
 * Reads dependencies issue by issue, for the watcher: the tracker's "blocked by" is asked once per
 * issue version, and the foreign references are logged once per issue (again when they change).
 */
export class DependencyReader {
  readonly #options: DependencyReaderOptions;
  /** By issue: the version last read, and what the tracker said blocks it then (undefined: it has no such thing). */
  readonly #versions = new Map<number, { updatedAt: string; blockedBy: { numbers: number[]; elsewhere: string[] } | undefined }>();

  /** By issue: the foreign references last logged. */
  readonly #logged = new Map<number, string>();

  constructor(options: DependencyReaderOptions) {
    this.#options = options;
  }

  async dependsOn(issue: TrackedIssue): Promise<number[]> {
    const { source, logger, repository } = this.#options;
    const known = this.#versions.get(issue.number);
    if (known?.updatedAt === issue.updatedAt) return dependenciesOf(issue, { repository, blockedBy: known.blockedBy }).dependsOn;
    const blockedBy = source.blockedBy ? await source.blockedBy(issue.number) : undefined;
    this.#versions.set(issue.number, { updatedAt: issue.updatedAt, blockedBy });
    const { dependsOn, elsewhere } = dependenciesOf(issue, { repository, blockedBy });
    const named = elsewhere.join(', ');
    if (elsewhere.length > 0 && this.#logged.get(issue.number) !== named) {
      logger.info({ issue: issue.number, elsewhere }, `dependency on another repository ignored: ${named}`);
    }
    this.#logged.set(issue.number, named);
    return dependsOn;
  }

  /** An issue that left the scope: its next version is read afresh. */
  forget(number: number): void {
    this.#versions.delete(number);
    this.#logged.delete(number);
  }
}
