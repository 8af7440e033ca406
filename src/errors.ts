/**
 * The one error type of morphoprof: a stable code, a message that names the file, row or column,
 * and a hint that says what to do next.
 */
export type ErrorCode =
  | 'BAD_ARGUMENT'
  | 'FILE_NOT_FOUND'
  | 'BAD_IMAGE'
  | 'BAD_TABLE'
  | 'MISSING_COLUMN'
  | 'BAD_MODEL'
  | 'NOTHING_VALID'
  | 'INTERNAL'
  | 'NOT_IN_BROWSER';

export class MorphoprofError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MorphoprofError';
    this.code = code;
    this.hint = hint;
  }
  /** Message and hint as shown to a user. */
  describe(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

/** Argument check in the style of sharp's invalidParameterError. */
export function invalidParameter(name: string, expected: string, actual: unknown): MorphoprofError {
  return new MorphoprofError(
    'BAD_ARGUMENT',
    `Expected ${expected} for ${name} but received ${JSON.stringify(actual)}`,
  );
}

export function errorMessage(err: unknown): string {
  if (err instanceof MorphoprofError) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}

/** An error as it crosses to another thread (structured clone keeps neither class nor code). */
export interface ThreadError {
  code?: string;
  message: string;
  hint?: string;
  stack?: string;
}

export function toThreadError(err: unknown): ThreadError {
  if (err instanceof MorphoprofError) return { code: err.code, message: err.message, hint: err.hint, stack: err.stack };
  return { message: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined };
}

/** The error again on this side: a MorphoprofError keeps its code and hint. */
export function fromThreadError(e: ThreadError): Error {
  const err = e.code ? new MorphoprofError(e.code as ErrorCode, e.message, e.hint) : new Error(e.message);
  if (e.stack) err.stack = e.stack;
  return err;
}
