/**
 * The github issue source against a fresh fake GitHub, for the tests of the source: the real
 * octokit client over real HTTP, waits shrunk, every source and server closed after each test, and
 * a check that the token never reached a log line. Call `githubSourceHarness()` at the top of a
 * test file: it registers its own `afterEach`.
 */
import { afterEach, expect } from 'vitest';
import { createLogger } from '../../src/infra/observe/logger.ts';
import { IssueSourceError } from '../../src/issues/errors.ts';
import { GitHubIssueSource, type GitHubIssueSourceOptions } from '../../src/issues/github-source.ts';
import type { ListResult } from '../../src/issues/source.ts';
import { startFakeGitHub, type FakeGitHub } from './fake-github.ts';

export const owner = 'acme';
export const repo = 'widgets';
export const token = 'ghp_source_test_token_0123456789';

export interface GitHubSourceHarness {
  /** Every log line of every source, as JSON text. */
  logLines: string[];
  fake(options?: { defaultBranch?: string; dependencies?: boolean }): Promise<FakeGitHub>;
  source(github: FakeGitHub, options?: Partial<GitHubIssueSourceOptions>): GitHubIssueSource;
}

export function githubSourceHarness(): GitHubSourceHarness {
  const logLines: string[] = [];
  const logger = createLogger({ level: 'debug', stdout: { write: (line: string) => void logLines.push(line) } });
  const fakes: FakeGitHub[] = [];
  const sources: GitHubIssueSource[] = [];
  afterEach(async () => {
    await Promise.all(sources.splice(0).map((s) => s.close()));
    await Promise.all(fakes.splice(0).map((f) => f.close()));
    expect(logLines.filter((line) => line.includes(token))).toEqual([]);
    logLines.length = 0;
  });
  return {
    logLines,
    async fake(options = {}) {
      const github = await startFakeGitHub({ owner, repo, token, ...options });
      fakes.push(github);
      return github;
    },
    source(github, options = {}) {
      const created = new GitHubIssueSource({
        owner,
        repo,
        baseUrl: github.url,
        token,
        logger,
        ...options,
        client: { retryBaseMs: 5, rateLimitUnitMs: 20, writeSpacing: false, ...options.client },
      });
      sources.push(created);
      return created;
    },
  };
}

/** The IssueSourceError a call fails with; fails the test when it does not. */
export async function failure(promise: Promise<unknown>): Promise<IssueSourceError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(IssueSourceError);
    return error as IssueSourceError;
  }
  throw new Error('expected the call to fail');
}

/** The open issues, the listing committed as the watcher commits it once it has judged them. */
export async function listedOf(issues: { listOpen(): Promise<ListResult> }) {
  const listing = await issues.listOpen();
  listing.commit?.();
  return listing.issues;
}
