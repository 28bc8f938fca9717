/** Checks for option values: a bad one is a usage error (exit 2), never a strange run. */
import { UsageError } from '../errors.js';

/** `--port abc` (or TCPSEND_PORT=abc) reaches here as NaN: a usage error, not a failed connection. */
export function portNumber(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError('--port (or TCPSEND_PORT) must be a whole number from 0 to 65535');
  }
  return port;
}

/** The most --retries takes: about a day of the longest backoff; more is a typo. */
const MAX_RETRIES = 10_000;
/** The longest --timeout: a day. Node's timers cannot go past about 24.8 days at all. */
const MAX_TIMEOUT_S = 86_400;

/** `--retries abc` reaches here as NaN, `-1` as -1: usage errors, not a retry loop. */
export function retriesValue(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_RETRIES) {
    throw new UsageError(`--retries (or TCPSEND_RETRIES) must be a whole number from 0 to ${MAX_RETRIES}`);
  }
  return value;
}

/** `--timeout -1` or `1e9` would give nonsense timers: seconds, more than 0, at most a day. */
export function timeoutValue(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_TIMEOUT_S) {
    throw new UsageError(`--timeout (or TCPSEND_TIMEOUT) must be a number of seconds above 0 and at most ${MAX_TIMEOUT_S}`);
  }
  return value;
}

