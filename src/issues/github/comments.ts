/**
 * The comments resource of the github source: a comment is posted once per key. A hidden marker
 * carrying the key starts the body; a comment of the issue carrying it means "already posted",
 * and a post that failed without a clear answer is looked for before it is tried again.
 * `listComments` reads every page of an issue's comments; a body that starts with the marker
 * answers its `key`, and the body without the marker line.
 */
import type { AuthorAssociation, TrackedComment } from '../source.ts';
import { isBotUser, toAssociation } from './issues.ts';
import type { GitHubRepo } from './repo.ts';

/** The hidden marker that makes a comment's key visible to the next `comment` call. */
export function commentMarker(key: string): string {
  // encodeURIComponent keeps `-->` and whitespace out of the HTML comment.
  return `<!-- miyabi-orchestra:key=${encodeURIComponent(key)} -->`;
}

const markerAtStart = /^<!-- miyabi-orchestra:key=([^\s]*) -->(?:\r?\n)?/;

/** The key of a body that starts with the orchestra's marker, and the body without it. */
export function parseCommentMarker(body: string): { key?: string; body: string } {
  const found = markerAtStart.exec(body);
  if (found === null) return { body };
  try {
    return { key: decodeURIComponent(found[1]!), body: body.slice(found[0].length) };
  } catch {
    return { body }; // not a marker the orchestra wrote (bad percent-encoding)
  }
}

interface GitHubCommentJson {
  id: number;
  body?: string | null;
  user?: { login?: string | null; type?: string | null } | null;
  author_association?: string | null;
}

export function toTrackedComment(json: GitHubCommentJson): TrackedComment {
  const { key, body } = parseCommentMarker(json.body ?? '');
  const association: AuthorAssociation = toAssociation(json.author_association);
  return {
    id: String(json.id),
    author: json.user?.login ?? 'ghost',
    authorAssociation: association,
    authorIsBot: isBotUser(json.user),
    body,
    ...(key !== undefined ? { key } : {}),
  };
}

export class GitHubComments {
  private readonly commented = new Set<string>();

  constructor(private readonly github: GitHubRepo) {}

  async comment(number: number, key: string, body: string): Promise<{ posted: boolean }> {
    const { github } = this;
    const marker = commentMarker(key);
    const remembered = `${number}\n${key}`;
    return github.call(`posting comment ${key} on #${number}`, () =>
      github.serialized(`comment:${remembered}`, async () => {
        if (this.commented.has(remembered)) return { posted: false };
        if (await this.hasMarker(number, marker)) {
          this.commented.add(remembered);
          return { posted: false };
        }
        await github.createOnce(
          () =>
            github.octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
              ...github.base,
              issue_number: number,
              body: `${marker}\n${body}`,
              request: { retries: 0 },
            }),
          () => this.hasMarker(number, marker),
        );
        this.commented.add(remembered);
        return { posted: true };
      }),
    );
  }

  /** Every comment of the issue, oldest first (every page). */
  async listComments(number: number): Promise<TrackedComment[]> {
    const { github } = this;
    return github.call(`reading the comments of #${number}`, async () => {
      const comments = await github.octokit.paginate('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
        ...github.base,
        issue_number: number,
        per_page: github.perPage,
      });
      return comments.map(toTrackedComment);
    });
  }

  private async hasMarker(number: number, marker: string): Promise<boolean> {
    for await (const { data } of this.github.octokit.paginate.iterator('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
      ...this.github.base,
      issue_number: number,
      per_page: this.github.perPage,
    })) {
      if (data.some((comment) => (comment.body ?? '').includes(marker))) return true;
    }
    return false;
  }
}
