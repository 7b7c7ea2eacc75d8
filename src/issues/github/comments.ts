/**
 * The comments resource of the github source: a comment is posted once per key. A hidden marker
 * carrying the key starts the body; a comment of the issue carrying it means "already posted",
 * and a post that failed without a clear answer is looked for before it is tried again.
 */
import type { GitHubRepo } from './repo.ts';

/** The hidden marker that makes a comment's key visible to the next `comment` call. */
export function commentMarker(key: string): string {
  // encodeURIComponent keeps `-->` and whitespace out of the HTML comment.
  return `<!-- miyabi-orchestra:key=${encodeURIComponent(key)} -->`;
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
