/**
 * The comments resource of the github source: a comment is posted once per key. A hidden marker
 * carrying the key and its signature starts the body; an own comment of the issue carrying it
 * means "already posted", and a post that failed without a clear answer is looked for before it
 * is tried again. `listComments` reads every page of an issue's comments; an own comment answers
 * its `key`, and the body without the marker line.
 *
 * **Own** means both: authored by the orchestra's login (the token's user, `GET /user`, or the
 * configured `issues.github.login` for an app) when it is known, and carrying a marker whose
 * signature verifies — an HMAC of the repository, the issue and the key with the installation's
 * secret (`<dataDir>/secrets/marker.key`). Anyone can write `<!-- miyabi-orchestra:key=… -->`
 * in a comment; nobody without the secret can sign it, so a commenter can neither suppress the
 * orchestra's comments nor pass for one of its questions (src/workflow/answers.ts).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuthorAssociation, TrackedComment } from '../source.ts';
import { isBotUser, toAssociation } from './issues.ts';
import type { GitHubRepo } from './repo.ts';

/** The hidden marker that makes a comment's key visible to the next `comment` call. */
export function commentMarker(key: string, signature?: string): string {
  // encodeURIComponent keeps `-->` and whitespace out of the HTML comment.
  return `<!-- miyabi-orchestra:key=${encodeURIComponent(key)}${signature === undefined ? '' : ` sig=${signature}`} -->`;
}

const markerAtStart = /^<!-- miyabi-orchestra:key=([^\s]*)(?: sig=([0-9a-f]+))? -->(?:\r?\n)?/;

/** The key (and signature) of a body that starts with a marker, and the body without it. Anyone can write one: see `MarkerSigner`. */
export function parseCommentMarker(body: string): { key?: string; signature?: string; body: string } {
  const found = markerAtStart.exec(body);
  if (found === null) return { body };
  try {
    const key = decodeURIComponent(found[1]!);
    return { key, ...(found[2] === undefined ? {} : { signature: found[2] }), body: body.slice(found[0].length) };
  } catch {
    return { body }; // not a marker the orchestra wrote (bad percent-encoding)
  }
}

/** Signs and checks markers: an HMAC-SHA256 of `<repository>#<issue>:<key>` with the installation's secret. */
export class MarkerSigner {
  constructor(
    private readonly secret: string,
    private readonly repository: string,
  ) {}

  sign(issue: number, key: string): string {
    return createHmac('sha256', this.secret).update(`${this.repository.toLowerCase()}#${issue}:${key}`).digest('hex').slice(0, 32);
  }

  verifies(issue: number, key: string, signature: string | undefined): boolean {
    if (signature === undefined || signature.length !== 32) return false;
    return timingSafeEqual(Buffer.from(this.sign(issue, key)), Buffer.from(signature));
  }
}

interface GitHubCommentJson {
  id: number;
  body?: string | null;
  user?: { login?: string | null; type?: string | null } | null;
  author_association?: string | null;
}

/** A comment as the orchestra reads it. `own` says whether a marked comment is the orchestra's: only then has it a key. */
export function toTrackedComment(json: GitHubCommentJson, own: (login: string | undefined, key: string, signature: string | undefined) => boolean): TrackedComment {
  const marker = parseCommentMarker(json.body ?? '');
  const ours = marker.key !== undefined && own(json.user?.login ?? undefined, marker.key, marker.signature);
  const association: AuthorAssociation = toAssociation(json.author_association);
  return {
    id: String(json.id),
    author: json.user?.login ?? 'ghost',
    authorAssociation: association,
    authorIsBot: isBotUser(json.user),
    body: ours ? marker.body : (json.body ?? ''),
    ...(ours ? { key: marker.key! } : {}),
  };
}

export interface CommentIdentity {
  signer: MarkerSigner;
  /** The login the token posts as; undefined when it cannot be learned (then the signature alone decides). */
  login(): Promise<string | undefined>;
}

export class GitHubComments {
  private readonly commented = new Set<string>();

  constructor(
    private readonly github: GitHubRepo,
    private readonly identity: CommentIdentity,
  ) {}

  async comment(number: number, key: string, body: string): Promise<{ posted: boolean }> {
    const { github } = this;
    const marker = commentMarker(key, this.identity.signer.sign(number, key));
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

  /** Every comment of the issue, oldest first (every page); the orchestra's own carry their key. */
  async listComments(number: number): Promise<TrackedComment[]> {
    const { github } = this;
    return github.call(`reading the comments of #${number}`, async () => {
      const comments = await github.octokit.paginate('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
        ...github.base,
        issue_number: number,
        per_page: github.perPage,
      });
      const own = await this.ownership(number);
      return comments.map((comment) => toTrackedComment(comment, own));
    });
  }

  /** Whether a comment by `author` whose marker holds `key` and `signature` is the orchestra's own: a webhook's view of a comment, judged as `listComments` judges it. */
  async isOwn(number: number, author: string, key: string, signature: string | undefined): Promise<boolean> {
    return (await this.ownership(number))(author, key, signature);
  }

  private async ownership(number: number): Promise<(login: string | undefined, key: string, signature: string | undefined) => boolean> {
    const login = await this.identity.login();
    return (author, key, signature) => (login === undefined || author === login) && this.identity.signer.verifies(number, key, signature);
  }

  /** An own comment (by the orchestra's login, when known) carrying this exact marker, signature included. */
  private async hasMarker(number: number, marker: string): Promise<boolean> {
    const login = await this.identity.login();
    for await (const { data } of this.github.octokit.paginate.iterator('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
      ...this.github.base,
      issue_number: number,
      per_page: this.github.perPage,
    })) {
      if (data.some((comment) => (login === undefined || comment.user?.login === login) && (comment.body ?? '').startsWith(marker))) return true;
    }
    return false;
  }
}
