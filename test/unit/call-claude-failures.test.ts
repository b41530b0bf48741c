import { describe, expect, it } from '@jest/globals';
import Anthropic from '@anthropic-ai/sdk';
import { ApplicationFailure, type Logger, type LogLevel, type LogMetadata } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { MODEL_API_ERROR, type ModelErrorDetails } from '../../src/api/activity-contract';
import { toFailure } from '../../src/activities/call-claude';

/** A logger that keeps what it is given (and keeps the test output quiet). */
class CapturingLogger implements Logger {
  readonly entries: Array<{ level: LogLevel; message: string; meta?: LogMetadata }> = [];
  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    this.entries.push({ level, message, meta });
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

let lastLogger = new CapturingLogger();

/** toFailure logs through the activity logger, which needs an activity context. */
function failureOf(err: unknown): Promise<ApplicationFailure> {
  lastLogger = new CapturingLogger();
  return new MockActivityEnvironment(undefined, { logger: lastLogger }).run(async () => toFailure(err));
}

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'timeout_error',
  409: 'conflict_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

function apiError(
  status: number,
  headers: Record<string, string> = {},
  errorType = ERROR_TYPES[status] ?? 'api_error',
  message = 'something happened',
) {
  return Anthropic.APIError.generate(
    status,
    { type: 'error', error: { type: errorType, message }, request_id: 'req_1' },
    message,
    new Headers({ 'request-id': 'req_1', ...headers }),
  );
}

function detailsOf(failure: ApplicationFailure): ModelErrorDetails {
  expect(failure.details).toHaveLength(1);
  return failure.details![0] as ModelErrorDetails;
}

describe('toFailure: HTTP status', () => {
  it.each([429, 408, 409, 500, 529])('%i is retryable, with the error in details', async (status) => {
    const err = apiError(status, {}, ERROR_TYPES[status], 'slow down');
    const failure = await failureOf(err);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe(MODEL_API_ERROR);
    expect(failure.nonRetryable).toBe(false);
    expect(detailsOf(failure)).toEqual({
      status,
      errorType: ERROR_TYPES[status],
      requestId: 'req_1',
      message: 'slow down',
    });
    expect(failure.message).toBe(`Anthropic API ${status} ${ERROR_TYPES[status]}: slow down`);
    expect(failure.cause).toBe(err);
    expect(failure.nextRetryDelay).toBeUndefined();
    const warning = lastLogger.entries.find((e) => e.message === 'model call failed');
    expect(warning?.level).toBe('WARN');
    expect(warning?.meta).toMatchObject({
      status,
      errorType: ERROR_TYPES[status],
      requestId: 'req_1',
      retryable: true,
    });
  });

  it.each([400, 401, 403, 404, 413])('%i is not retryable', async (status) => {
    const failure = await failureOf(apiError(status, {}, ERROR_TYPES[status], 'bad'));
    expect(failure.type).toBe(MODEL_API_ERROR);
    expect(failure.nonRetryable).toBe(true);
    expect(detailsOf(failure)).toMatchObject({
      status,
      errorType: ERROR_TYPES[status],
      requestId: 'req_1',
      message: 'bad',
    });
  });

  it('another 4xx (422) is not retryable; another 5xx (503) is', async () => {
    expect((await failureOf(apiError(422))).nonRetryable).toBe(true);
    expect((await failureOf(apiError(503))).nonRetryable).toBe(false);
  });

  it('has no requestId when the response had no request-id header', async () => {
    const err = Anthropic.APIError.generate(
      500,
      { type: 'error', error: { type: 'api_error', message: 'oops' } },
      'oops',
      new Headers(),
    );
    expect(detailsOf(await failureOf(err)).requestId).toBeUndefined();
  });
});

describe('toFailure: retry delay', () => {
  it('takes retry-after in seconds as milliseconds', async () => {
    expect((await failureOf(apiError(429, { 'retry-after': '3' }))).nextRetryDelay).toBe(3000);
  });

  it('prefers retry-after-ms over retry-after', async () => {
    expect(
      (await failureOf(apiError(429, { 'retry-after-ms': '150', 'retry-after': '3' }))).nextRetryDelay,
    ).toBe(150);
  });

  it('reads retry-after as an HTTP date', async () => {
    const date = new Date(Date.now() + 30_000).toUTCString();
    const delay = (await failureOf(apiError(529, { 'retry-after': date }))).nextRetryDelay as number;
    expect(typeof delay).toBe('number');
    // The HTTP date has whole seconds: the delay is a little under 30 s.
    expect(delay).toBeGreaterThan(27_000);
    expect(delay).toBeLessThanOrEqual(30_000);
  });

  it('clamps a date in the past to 0 and caps a long delay at 10 minutes', async () => {
    expect(
      (await failureOf(apiError(503, { 'retry-after': new Date(Date.now() - 60_000).toUTCString() })))
        .nextRetryDelay,
    ).toBe(0);
    expect((await failureOf(apiError(429, { 'retry-after': '3600' }))).nextRetryDelay).toBe(600_000);
    expect((await failureOf(apiError(429, { 'retry-after-ms': '99999999' }))).nextRetryDelay).toBe(600_000);
  });

  it('ignores an unparseable retry-after', async () => {
    const failure = await failureOf(apiError(429, { 'retry-after': 'soon' }));
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBeUndefined();
  });

  it('sets no delay on a non-retryable failure', async () => {
    const failure = await failureOf(apiError(400, { 'retry-after': '3' }));
    expect(failure.nonRetryable).toBe(true);
    expect(failure.nextRetryDelay).toBeUndefined();
  });
});

describe('toFailure: x-should-retry', () => {
  it('false makes a 500 non-retryable', async () => {
    expect((await failureOf(apiError(500, { 'x-should-retry': 'false' }))).nonRetryable).toBe(true);
  });

  it('true makes a 400 retryable (with its retry-after)', async () => {
    const failure = await failureOf(apiError(400, { 'x-should-retry': 'true', 'retry-after': '2' }));
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe(2000);
  });
});

describe('toFailure: errors without a status', () => {
  it('a mid-stream error event is retryable, with its error type', async () => {
    const err = new Anthropic.APIError(
      undefined,
      { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
      'Overloaded',
      undefined,
    );
    const failure = await failureOf(err);
    expect(failure.type).toBe(MODEL_API_ERROR);
    expect(failure.nonRetryable).toBe(false);
    expect(detailsOf(failure)).toEqual({
      status: undefined,
      errorType: 'overloaded_error',
      requestId: undefined,
      message: 'Overloaded',
    });
    expect(failure.message).toBe('Anthropic API overloaded_error: Overloaded');
  });

  it('a dropped connection is retryable, as connection_error', async () => {
    const failure = await failureOf(new Anthropic.APIConnectionError({ message: 'Connection error.' }));
    expect(failure.type).toBe(MODEL_API_ERROR);
    expect(failure.nonRetryable).toBe(false);
    expect(detailsOf(failure)).toMatchObject({ errorType: 'connection_error', message: 'Connection error.' });
    expect(failure.nextRetryDelay).toBeUndefined();
  });

  it('a connection timeout is retryable', async () => {
    expect((await failureOf(new Anthropic.APIConnectionTimeoutError())).nonRetryable).toBe(false);
  });

  it('a plain Error is a retryable ModelApiError', async () => {
    const failure = await failureOf(new Error('the stream ended before message_stop'));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure.type).toBe(MODEL_API_ERROR);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).toBe('model call failed: the stream ended before message_stop');
    expect(failure.details).toEqual([{ message: 'the stream ended before message_stop' }]);
  });

  it('a thrown non-Error is stringified', async () => {
    const failure = await failureOf('boom');
    expect(failure.message).toBe('model call failed: boom');
    expect(failure.nonRetryable).toBe(false);
  });

  it('an ApplicationFailure passes through unchanged', async () => {
    const original = ApplicationFailure.create({ type: 'Other', message: 'x', nonRetryable: true });
    expect(await failureOf(original)).toBe(original);
  });
});
