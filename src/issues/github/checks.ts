/**
 * CI verdicts on a commit: its check runs (`GET /commits/{sha}/check-runs`, every page, the
 * latest run of each name) and its commit statuses (`GET /commits/{sha}/status`, the combined
 * status's `statuses`), one CheckState each.
 *
 *   check run   queued, in_progress, waiting, requested, pending → pending; completed with
 *               success, neutral or skipped → success; any other conclusion → failure. Its
 *               summary: `output.title`, `output.summary` and `output.text`, bounded to 4 KiB
 *               (the end of a long text is kept: that is where a log says what failed)
 *   status      pending → pending, success → success, failure and error → failure; its summary
 *               the description. Several statuses of one context: the newest wins
 */
import type { CheckState } from '../source.ts';
import type { GitHubRepo } from './repo.ts';

/** The bound of a check's summary, in UTF-16 code units. */
export const checkSummaryLimit = 4096;

export interface GitHubCheckRunJson {
  name: string;
  status: string;
  conclusion?: string | null;
  details_url?: string | null;
  html_url?: string | null;
  output?: { title?: string | null; summary?: string | null; text?: string | null } | null;
}

export interface GitHubStatusJson {
  context: string;
  state: string;
  description?: string | null;
  target_url?: string | null;
  created_at?: string | null;
  updated_at?: string | null;
  id?: number;
}

const passing = new Set(['success', 'neutral', 'skipped']);

/** `text` bounded to `limit` code units, its end kept, `…` where it was cut. */
export function tail(text: string, limit = checkSummaryLimit): string {
  if (text.length <= limit) return text;
  let start = text.length - (limit - 1);
  // Do not start on the second half of a surrogate pair.
  if (/[\uDC00-\uDFFF]/.test(text[start] ?? '')) start += 1;
  return `…${text.slice(start)}`;
}

export function checkRunState(run: GitHubCheckRunJson): CheckState {
  const state = run.status !== 'completed' ? 'pending' : passing.has(run.conclusion ?? '') ? 'success' : 'failure';
  const parts = [run.output?.title, run.output?.summary, run.output?.text].filter((part): part is string => typeof part === 'string' && part.trim() !== '');
  const detailsUrl = run.details_url ?? run.html_url ?? undefined;
  return {
    name: run.name,
    kind: 'check_run',
    state,
    ...(detailsUrl ? { detailsUrl } : {}),
    ...(parts.length > 0 ? { summary: tail(parts.join('\n\n')) } : {}),
  };
}

/** One CheckState per context, the newest status of each (by `updated_at`, then `id`). */
export function statusStates(statuses: readonly GitHubStatusJson[]): CheckState[] {
  const newest = new Map<string, GitHubStatusJson>();
  const when = (status: GitHubStatusJson) => status.updated_at ?? status.created_at ?? '';
  for (const status of statuses) {
    const seen = newest.get(status.context);
    const newer = seen === undefined || when(status) > when(seen) || (when(status) === when(seen) && (status.id ?? 0) > (seen.id ?? 0));
    if (newer) newest.set(status.context, status);
  }
  return [...newest.values()].map((status) => ({
    name: status.context,
    kind: 'status',
    state: status.state === 'success' ? 'success' : status.state === 'pending' ? 'pending' : 'failure',
    ...(status.target_url ? { detailsUrl: status.target_url } : {}),
    ...(status.description ? { summary: tail(status.description) } : {}),
  }));
}

export class GitHubChecks {
  constructor(private readonly github: GitHubRepo) {}

  async checks(sha: string): Promise<CheckState[]> {
    const { github } = this;
    return github.call(`reading the checks of ${sha}`, async () => {
      const runs = (await github.octokit.paginate('GET /repos/{owner}/{repo}/commits/{ref}/check-runs', {
        ...github.base,
        ref: sha,
        filter: 'latest',
        per_page: github.perPage,
      })) as GitHubCheckRunJson[];
      const statuses: GitHubStatusJson[] = [];
      // The combined status pages its `statuses` (total_count of them), but is no list itself.
      for (let page = 1; ; page += 1) {
        const { data } = await github.octokit.request('GET /repos/{owner}/{repo}/commits/{ref}/status', {
          ...github.base,
          ref: sha,
          per_page: github.perPage,
          page,
        });
        statuses.push(...(data.statuses as GitHubStatusJson[]));
        if (data.statuses.length === 0 || statuses.length >= data.total_count) break;
      }
      return [...runs.map(checkRunState), ...statusStates(statuses)];
    });
  }
}
