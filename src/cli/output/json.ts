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

export class JsonEmitter {
  constructor(
    private readonly out: Writable,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  emit(event: EventName, fields: Record<string, unknown> = {}): void {
    // `event` and `time` are ours: a field of the same name in `fields` cannot replace them.
    const { event: _e, time: _t, ...rest } = fields;
    this.out.write(`${JSON.stringify({ event, ...rest, time: this.clock().toISOString() })}\n`);
  }
}
