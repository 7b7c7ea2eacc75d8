/**
 * Markers only the orchestra can write, on the fake GitHub over real HTTP: a commenter who writes
 * the hidden marker of a comment the orchestra is about to post — the old predictable one, a
 * signature guessed, or the orchestra's own marker copied — does not make it "already posted";
 * nor does a comment of hers pass for one of the orchestra's questions.
 */
import { describe, expect, it } from 'vitest';
import { commentMarker, MarkerSigner } from '../../src/issues/github-source.ts';
import type { TrustPolicy } from '../../src/issues/trust.ts';
import { findAnswer } from '../../src/workflow/answers.ts';
import { githubSourceHarness, owner, repo } from '../support/github-source.ts';

const { fake, source } = githubSourceHarness();
const markerKey = 'a'.repeat(64);
const policy: TrustPolicy = { associations: ['OWNER', 'MEMBER', 'COLLABORATOR'], allow: [], bots: [] };

describe('comment markers', () => {
  it("a commenter's forged marker does not suppress the orchestra's comment", async () => {
    const github = await fake();
    const issue = github.addIssue({ author: owner });
    const key = `issue-${issue.number}.g1.started`;
    const guessed = new MarkerSigner('not-the-secret', `${owner}/${repo}`).sign(issue.number, key);
    github.addComment(issue.number, `${commentMarker(key)}\nI claim this.`, 'mallory');
    github.addComment(issue.number, `${commentMarker(key, guessed)}\nAnd this.`, 'mallory');
    github.addComment(issue.number, `${commentMarker(`issue-${issue.number}.g1.failed`)}\nAnd the failure too.`, 'mallory');

    const orchestra = source(github, { markerKey });
    expect(await orchestra.comment(issue.number, key, 'Started.')).toEqual({ posted: true });
    expect(await orchestra.comment(issue.number, `issue-${issue.number}.g1.failed`, 'Failed.')).toEqual({ posted: true });
    // It asked GitHub who the token is, and wrote as that login.
    expect(github.requestsTo('GET', '/user')).not.toHaveLength(0);
    const own = github.state.comments.filter((comment) => comment.user.login === 'miyabi-bot');
    expect(own).toHaveLength(2);

    // Her copy of the genuine, signed marker (on a comment of her own) is not the orchestra's either.
    const genuine = own[0]!.body.split('\n')[0]!;
    github.addComment(issue.number, `${genuine}\nCopied.`, 'mallory');
    const comments = await source(github, { markerKey }).listComments(issue.number);
    expect(comments.filter((comment) => comment.key !== undefined).map((comment) => [comment.author, comment.key])).toEqual([
      ['miyabi-bot', key],
      ['miyabi-bot', `issue-${issue.number}.g1.failed`],
    ]);
    // …and once posted, it stays posted: a fresh source (after a restart) with the same secret.
    expect(await source(github, { markerKey }).comment(issue.number, key, 'Started.')).toEqual({ posted: false });
    expect(github.state.comments.filter((comment) => comment.user.login === 'miyabi-bot')).toHaveLength(2);
  });

  it("a commenter cannot pass for one of the orchestra's questions: the answer search is not moved", async () => {
    const github = await fake();
    const issue = github.addIssue({ author: owner });
    const orchestra = source(github, { markerKey });
    const question = `issue-${issue.number}.g1.needs-input.codegen.r0.q1`;
    await orchestra.comment(issue.number, question, 'Which format?');
    github.addComment(issue.number, 'JSON, please.', owner);
    // Mallory (untrusted) fakes a newer question, so that the owner's answer would come "before" it.
    github.addComment(issue.number, `${commentMarker(`issue-${issue.number}.g1.needs-input.codegen.r0.q2`)}\nA newer question?`, 'mallory');
    const comments = await orchestra.listComments(issue.number);
    expect(findAnswer(comments, policy).answer?.text).toBe('JSON, please.');
  });

  it('with no login to be had (an app token), the signature alone decides', async () => {
    const github = await fake();
    const issue = github.addIssue({ author: owner });
    github.fail({ kind: 'forbidden', method: 'GET', path: '/user', times: 5 });
    const orchestra = source(github, { markerKey });
    github.addComment(issue.number, `${commentMarker('k')}\nforged`, 'mallory');
    expect(await orchestra.comment(issue.number, 'k', 'ours')).toEqual({ posted: true });
    expect(await source(github, { markerKey }).comment(issue.number, 'k', 'ours')).toEqual({ posted: false });
    expect((await orchestra.listComments(issue.number)).map((comment) => comment.key)).toEqual([undefined, 'k']);
  });
});
