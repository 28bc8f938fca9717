/** The pure pieces of the progress display (issue 15.3, 15.5; issue 11.7). */
import { describe, expect, it } from 'vitest';
import { displayWidth, formatDuration, middleEllipsis, RateMeter, renderStatus } from '../../../src/cli/output/progress.js';

describe('formatDuration', () => {
  it('seconds, then minutes and seconds, then hours and minutes; never 1m60s', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(9.4)).toBe('9s');
    expect(formatDuration(59.6)).toBe('1m00s');
    expect(formatDuration(119.6)).toBe('2m00s');
    expect(formatDuration(65)).toBe('1m05s');
    expect(formatDuration(3599.7)).toBe('1h00m');
    expect(formatDuration(2 * 3600 + 3 * 60 + 10)).toBe('2h03m');
    for (let s = 0; s < 20_000; s += 0.37) expect(formatDuration(s)).not.toMatch(/(^|[hm])60[sm]$/);
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('--');
  });
});

describe('RateMeter', () => {
  it('says nothing for the first second, then the steady rate', () => {
    const m = new RateMeter();
    m.sample(0, 0);
    m.sample(1_000_000, 0.5);
    expect(m.bytesPerSecond).toBeNull();
    expect(m.eta(5)).toBeNull();
    for (let t = 1; t <= 10; t++) m.sample(2_000_000 * t, t);
    expect(m.bytesPerSecond).toBeGreaterThan(1_900_000);
    expect(m.bytesPerSecond).toBeLessThan(2_100_000);
  });

  it('a bursty but steady link gives an ETA that falls steadily instead of jumping', () => {
    // 10 MB/s on average, sampled every 250 ms (as the display redraws), in chunks that
    // alternate 1 MB and 4 MB: an unsmoothed rate would swing between 4 and 16 MB/s.
    const m = new RateMeter();
    const total = 200_000_000;
    let done = 0;
    const etas: number[] = [];
    for (let i = 0; i <= 60; i++) {
      const t = i / 4;
      m.sample(done, t);
      const eta = m.eta(total - done);
      if (t >= 5 && eta !== null) etas.push(eta);
      done += i % 2 === 0 ? 1_000_000 : 4_000_000;
    }
    expect(etas.length).toBeGreaterThan(20);
    // Never up by a second from one redraw to the next (unsmoothed: 10 s to 40 s and back).
    for (let i = 1; i < etas.length; i++) expect(etas[i]!).toBeLessThan(etas[i - 1]! + 1);
  });

  it('a stall makes the rate fall instead of freezing', () => {
    const m = new RateMeter();
    for (let t = 0; t <= 5; t++) m.sample(t * 1_000_000, t);
    const before = m.bytesPerSecond!;
    for (let t = 6; t <= 15; t++) m.sample(5_000_000, t);
    expect(m.bytesPerSecond!).toBeLessThan(before / 10);
  });
});

describe('middleEllipsis', () => {
  it('keeps a short name whole, and takes the middle out of a long one, the end kept larger', () => {
    expect(middleEllipsis('a.txt', 10)).toBe('a.txt');
    const cut = middleEllipsis('photos/2024/summer/holiday/IMG_0042.jpg', 24);
    expect(displayWidth(cut)).toBeLessThanOrEqual(24);
    expect(cut).toMatch(/^photos\/.*….*IMG_0042\.jpg$/);
  });

  it('counts wide characters as two columns', () => {
    const name = '写真/夏休み/海辺の写真_0042.jpg';
    const cut = middleEllipsis(name, 16);
    expect(displayWidth(cut)).toBeLessThanOrEqual(16);
    expect(cut).toContain('…');
    expect(cut.endsWith('.jpg')).toBe(true);
  });
});

describe('renderStatus', () => {
  const long = 'photos/2024/summer-holiday-in-the-mountains/day-03/IMG_20240817_101112_HDR.jpg';
  const view = { lead: ' 43%', fraction: 0.43, stats: ['880 MiB/2.00 GiB', '45.2 MiB/s', 'ETA 27s'], name: long };

  it('fits 60 and 120 columns, keeping the name (cut in the middle) and its end', () => {
    for (const columns of [60, 80, 120]) {
      const line = renderStatus(view, columns);
      expect(displayWidth(line), `${columns}: ${line}`).toBeLessThanOrEqual(columns - 3); // room for ^C
      expect(line).toMatch(/HDR\.jpg$/);
      expect(line.startsWith(' 43%')).toBe(true);
      expect(line).toContain('ETA 27s');
    }
    expect(renderStatus(view, 120)).toMatch(/█/); // room for a bar too
  });

  it('a short name whole, with a bar of up to 30 columns', () => {
    const line = renderStatus({ ...view, name: 'big.iso' }, 120);
    expect(line.endsWith('  big.iso')).toBe(true);
    expect((line.match(/[█░]/g) ?? []).length).toBe(30);
  });

  it('in a very narrow terminal the stats go, last first, before the name does', () => {
    const line = renderStatus(view, 30);
    expect(displayWidth(line)).toBeLessThanOrEqual(27);
    expect(line).not.toContain('ETA');
    expect(line).toMatch(/HDR\.jpg$/);
  });
});
