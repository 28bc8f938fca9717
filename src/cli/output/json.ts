/**
 * The one place that writes `--json` output: every event of every command (get, put, ls, serve)
 * goes through `emit`, which gives it its `event` name first and its `time` (ISO 8601) last.
 * docs/cli.md lists the events and their fields; test/cli/json-events.test.ts holds the two to
 * each other.
 */
import type { Writable } from 'node:stream';

export type EventName =
  | 'start'
  | 'plan'
  | 'checking'
  | 'file_start'
  | 'progress'
  | 'file_done'
  | 'notice'
  | 'error'
  | 'summary'
  | 'result'
  | 'entry'
  | 'listening'
  | 'transfer_start'
  | 'request'
  | 'refused';

/**
 * JSON.stringify escapes only the C0 controls. DEL, the C1 controls (U+009B is a CSI to some
 * terminals), the bidi controls and the line separators U+2028/9 are escaped here as well, so
 * that NDJSON shown on a terminal is as inert as our other output. It stays the same JSON.
 */
const BEYOND_JSON = /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeCodeUnit(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

export class JsonEmitter {
  constructor(
    private readonly out: Writable,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  emit(event: EventName, fields: Record<string, unknown> = {}): void {
    // `event` and `time` are ours: a field of the same name in `fields` cannot replace them.
    const { event: _e, time: _t, ...rest } = fields;
    this.out.write(`${JSON.stringify({ event, ...rest, time: this.clock().toISOString() }).replace(BEYOND_JSON, escapeCodeUnit)}\n`);
  }
}
