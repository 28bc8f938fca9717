/**
 * The human reporter for folders (issue 11.7): on a terminal one status line and a summary,
 * nothing per file unless -v; in a pipe a line per file that moved; outcomes named.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HumanReporter, summaryLine } from '../../../src/cli/output/human.js';
import type { FileDone } from '../../../src/cli/reporter.js';

function streams(tty: boolean) {
  const stderr = Object.assign(new PassThrough(), tty ? { isTTY: true, columns: 100 } : {});
  const stdout = new PassThrough();
  let err = '';
  stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
  return { streams: { stdout, stderr }, text: () => err };
}

const done = (path: string, outcome: FileDone['outcome'], extra: Partial<FileDone> = {}): FileDone => ({
  path,
  size: 2048,
  bytes: outcome === 'sent' || outcome === 'replaced' ? 2048 : 0,
  checksum: 'sha256',
  digest: 'ab'.repeat(32),
  seconds: 0.01,
  resumedFrom: 0,
  outcome,
  ...extra,
});

function folderRun(r: HumanReporter): void {
  r.start({ op: 'put', target: 'h:1', files: null, bytes: null });
  r.plan({ files: 5, bytes: 5 * 2048 });
  for (const p of ['photos/a', 'photos/b']) {
    r.fileStart(p, 2048, 0);
    r.progress(p, 1024, 2048);
    r.fileDone(done(p, 'sent'));
  }
  r.fileDone(done('photos/c', 'replaced'));
  r.fileDone(done('photos/d', 'unchanged'));
  r.fileDone(done('photos/.env', 'skipped', { reason: 'the server refuses dotfiles' }));
  r.fileDone(done('photos/old', 'deleted'));
  r.summary({ files: 5, sent: 2, replaced: 1, unchanged: 1, skipped: 1, deleted: 1, failed: 0, bytes: 3 * 2048, seconds: 0.5 });
  r.close();
}

describe('HumanReporter, a folder', () => {
  it('on a terminal: a status line with files done of the total, no line per file, one summary line', () => {
    const { streams: s, text } = streams(true);
    folderRun(new HumanReporter(s, { quiet: false, verbose: false, live: true }));
    const out = text();
    expect(out).toMatch(/\d\/5 files/);
    expect(out).not.toMatch(/✓|= photos|- photos/);
    expect(out).not.toMatch(/6\/5 files|12\.0\/10\.0 KiB/); // a deletion is no file done
    // What the terminal shows last: the status line erased, the summary line.
    const lines = out.replace(/\x1b\[\?25[hl]/g, '').split(/\r\x1b\[K|\n/).filter(Boolean);
    expect(lines.at(-1)).toBe('5 files: 2 sent, 1 replaced, 1 deleted, 1 already identical, 1 skipped; 6.00 KiB in 0.50 s');
    expect(out).toContain('\x1b[?25h'); // the cursor is given back
  });

  it('on a terminal: 10,000 unchanged files do not redraw the status line once each', () => {
    const { streams: s, text } = streams(true);
    const r = new HumanReporter(s, { quiet: false, verbose: false, live: true });
    r.start({ op: 'get', target: 'h:1', files: null, bytes: null });
    r.plan({ files: 10_000, bytes: 10_000 * 2048 });
    for (let i = 0; i < 10_000; i++) r.fileDone(done(`d/f${i}`, 'unchanged'));
    const redraws = text().split('\r\x1b[K').length - 1;
    r.summary({ files: 10_000, sent: 0, replaced: 0, unchanged: 10_000, skipped: 0, deleted: 0, failed: 0, bytes: 0, seconds: 0.2 });
    r.close();
    // One at the plan, then at most one per 100 ms (the loop takes far less than a second).
    expect(redraws).toBeLessThan(20);
    expect(text()).toContain('10000 files: 0 received, 10000 already identical');
  });

  it('on a terminal with -v: a line per file, each outcome named, the skipped one with its reason', () => {
    const { streams: s, text } = streams(true);
    folderRun(new HumanReporter(s, { quiet: false, verbose: true, live: true }));
    const out = text();
    expect(out).toMatch(/✓ photos\/a: 2\.00 KiB, sha256 abababab/);
    expect(out).toMatch(/✓ photos\/c: 2\.00 KiB, replaced, sha256/);
    expect(out).toMatch(/= photos\/d: already there, identical/);
    expect(out).toMatch(/- photos\/\.env: skipped \(the server refuses dotfiles\)/);
    expect(out).toMatch(/✗ photos\/old: deleted/);
  });

  it('in a pipe: a line for each file that changed, none for the identical ones, and no escape codes', () => {
    const { streams: s, text } = streams(false);
    folderRun(new HumanReporter(s, { quiet: false, verbose: false, live: false }));
    const lines = text().split('\n').filter(Boolean);
    expect(lines.map((l) => l.split(':')[0])).toEqual(['✓ photos/a', '✓ photos/b', '✓ photos/c', '- photos/.env', '✗ photos/old', '5 files']);
    expect(text()).not.toMatch(/[\r\x1b]/);
  });

  it('--quiet: nothing at all', () => {
    const { streams: s, text } = streams(false);
    folderRun(new HumanReporter(s, { quiet: true, verbose: false, live: false }));
    expect(text()).toBe('');
  });
});

describe('summaryLine', () => {
  it('a get is received, a put sent; the rate when a MiB or more moved', () => {
    const s = { files: 2, sent: 2, replaced: 0, unchanged: 0, skipped: 0, deleted: 0, failed: 0, bytes: 4 * 1024 * 1024, seconds: 2 };
    expect(summaryLine(s, 'get')).toBe('2 files: 2 received, 0 already identical; 4.00 MiB in 2.00 s, 2.00 MiB/s');
    expect(summaryLine(s, 'put')).toBe('2 files: 2 sent, 0 already identical; 4.00 MiB in 2.00 s, 2.00 MiB/s');
    expect(summaryLine({ ...s, failed: 1, seconds: 125 }, 'put')).toMatch(/1 failed; 4\.00 MiB in 2m05s/);
  });
});
