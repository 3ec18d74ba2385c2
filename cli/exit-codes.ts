/**
 * What `drover` exits with. Scripts branch on these, so a number, once given a meaning, keeps it.
 * `drover --help` prints the same table (from EXIT_CODE_HELP below).
 */
export const EXIT = {
  /** Done; for a command that waits on a batch: the batch ended `completed`. */
  ok: 0,
  /** Unexpected: a server error, the API unreachable, a bug. */
  error: 1,
  /** Bad command line: unknown command or flag, a flag value that does not parse, a missing FILE. */
  usage: 2,
  /** The API refused the input (400), or `validate` found problems; every issue is printed with its line. */
  invalidInput: 3,
  /** No such batch (or file). */
  notFound: 4,
  /** The batch ended `completed_with_failures`: some items failed. */
  completedWithFailures: 5,
  /** The batch ended without completing: failed, cancelled, timed_out or budget_exhausted. */
  notCompleted: 6,
  /** Conflict (409), e.g. cancel, pause or new limits for a batch that has ended. */
  conflict: 7,
  /** Ctrl-C. A batch being watched keeps running. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODE_HELP: ReadonlyArray<readonly [ExitCode, string]> = [
  [EXIT.ok, 'success; a batch waited on ended completed'],
  [EXIT.error, 'unexpected error (server error, API not reachable, ...)'],
  [EXIT.usage, 'usage error: unknown command or flag, bad flag value, missing file'],
  [EXIT.invalidInput, 'invalid input: the API refused the request, or validate found problems'],
  [EXIT.notFound, 'not found: no such batch'],
  [EXIT.completedWithFailures, 'the batch ended completed_with_failures'],
  [EXIT.notCompleted, 'the batch ended failed, cancelled, timed_out or budget_exhausted'],
  [EXIT.conflict, 'conflict: the batch has ended (cancel/pause/resume/limits of an ended batch)'],
  [EXIT.interrupted, 'interrupted (Ctrl-C); a watched batch keeps running'],
];

/** The exit code for a batch's final status; a status that has not ended counts as success of the command. */
export function exitCodeForStatus(status: string): ExitCode {
  switch (status) {
    case 'completed_with_failures':
      return EXIT.completedWithFailures;
    case 'failed':
    case 'cancelled':
    case 'timed_out':
    case 'budget_exhausted':
      return EXIT.notCompleted;
    default:
      return EXIT.ok;
  }
}
