/**
 * The local issue source's errors: its own class over the issue codes of src/errors.ts, shared
 * by the issue files, the tracker files and the source.
 */
import { IssueErrorCodes, MiyabiError } from '../../errors.ts';

export const LocalSourceErrorCodes = {
  IssueDirMissing: IssueErrorCodes.IssueDirMissing,
  IssueNotFound: IssueErrorCodes.IssueNotFound,
  TrackerFileCorrupt: IssueErrorCodes.TrackerFileCorrupt,
  PullNotFound: IssueErrorCodes.PullNotFound,
  PullClosed: IssueErrorCodes.PullClosed,
  MergeUnavailable: IssueErrorCodes.MergeUnavailable,
} as const;

export type LocalSourceErrorCode = (typeof LocalSourceErrorCodes)[keyof typeof LocalSourceErrorCodes];

export class LocalIssueSourceError extends MiyabiError {
  constructor(code: LocalSourceErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'LocalIssueSourceError';
  }
}
