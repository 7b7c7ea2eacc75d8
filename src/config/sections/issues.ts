/**
 * Config section of the issue source: where the orchestra finds its work. `local` (a directory
 * of Markdown issues) is the embedded default; `github` polls a repository.
 */
import { z } from 'zod';
import { envName, millis, pathField } from '../fields.ts';

const local = z
  .object({
    dir: pathField('Directory of Markdown issues with YAML front matter').default('examples/backlog'),
    trackerDir: pathField(
      'Where the orchestra writes back: labels, comments and pull requests, as files. Default: <dataDir>/tracker',
    ).optional(),
    pollIntervalMs: millis('Interval between reads of the directory', 2_000, 100),
  })
  .strict()
  .prefault({})
  .describe('The local issue source');

const webhook = z
  .object({
    path: z.string().regex(/^\/\S*$/, 'expected a path like /webhooks/github').default('/webhooks/github').describe('Path on the HTTP endpoint (http.host:http.port)'),
    secretEnv: envName('Webhook secret (X-Hub-Signature-256)').default('GITHUB_WEBHOOK_SECRET'),
    maxBodyBytes: z.number().int().min(1_024).default(1_048_576).describe('Larger deliveries are refused (413)'),
  })
  .strict()
  .describe('The webhook receiver (issues, issue_comment, label events); polling stays on as the safety net');

const github = z
  .object({
    owner: z.string().min(1).describe('Owner (user or organisation) of the repository'),
    repo: z.string().min(1).describe('Repository name'),
    baseUrl: z
      .url({ protocol: /^https?$/ })
      .default('https://api.github.com')
      .describe('REST API base URL (GitHub Enterprise: https://HOST/api/v3)'),
    tokenEnv: envName('GitHub token').default('GITHUB_TOKEN'),
    login: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The login the token posts as: only its comments count as the orchestra\'s own. Default: asked of GitHub (GET /user); set it for a GitHub App token (`<app-slug>[bot]`), which GitHub will not name',
      ),
    pollIntervalMs: millis('Interval between polls for open issues (conditional requests: an unchanged poll costs no rate limit)', 60_000, 1_000),
    fullPollEvery: z
      .number()
      .int()
      .min(1)
      .default(10)
      .describe(
        'Every Nth poll reads every open issue (so nothing is missed); the polls between ask only for the issues updated since the newest change seen (`since`). 1: always in full',
      ),
    spaceWrites: z
      .boolean()
      .default(true)
      .describe(
        'Leave a second between writes, as GitHub asks of integrations to stay clear of its secondary rate limits; false for a GitHub Enterprise server without them (or a test server)',
      ),
    webhook: webhook.optional(),
  })
  .strict()
  .describe('The GitHub issue source');

export const issuesSection = z
  .object({
    source: z.enum(['local', 'github']).default('local').describe('Which issue source to use'),
    local,
    github: github.optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.source === 'github' && value.github === undefined) {
      ctx.addIssue({ code: 'custom', path: ['github'], message: 'required when issues.source is "github"' });
    }
  })
  .prefault({})
  .describe('Where issues come from');
