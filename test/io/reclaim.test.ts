import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Each test runs in a child node, on the built module (npm test builds first): V8's flags and
// collections are the whole process's, and this one is vitest's.
const RECLAIM = fileURLToPath(new URL('../../dist/io/reclaim.js', import.meta.url));

function inChild(body: string, flags: string[] = []): { before: number; after: number } {
  const script = `import v8 from 'node:v8';\nimport { boundYoungGeneration, reclaimer } from ${JSON.stringify(RECLAIM)};\n${body}`;
  return JSON.parse(execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8' }));
}

/** A load that keeps many young objects alive across scavenges, as 64 transfers at once do. */
const YOUNG_LOAD = `
  const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
  const before = young();
  let keep = [];
  for (let i = 0; i < 1e6; i++) { keep.push({ i }); if (keep.length > 100000) keep = keep.slice(50000); }
  console.log(JSON.stringify({ before, after: young() }));
`;

describe('reclaim', () => {
  it('boundYoungGeneration keeps the young generation small under a load that grows it many times over without', () => {
    const free = inChild(YOUNG_LOAD);
    expect(free.after).toBeGreaterThan(4 * free.before);
    const bound = inChild(`boundYoungGeneration();\n${YOUNG_LOAD}`);
    expect(bound.after).toBeLessThanOrEqual(2 * bound.before);
  });

  it('the reclaimer frees dead buffers that reached the old generation once they pass 8 MiB', () => {
    const { before, after } = inChild(
      `
      const external = () => process.memoryUsage().arrayBuffers;
      const reclaim = reclaimer(1 << 20);
      reclaim(1 << 20); // its low mark: now
      let held = Array.from({ length: 200 }, () => Buffer.allocUnsafeSlow(64 * 1024)); // 12.5 MiB
      gc({ type: 'minor' });
      gc({ type: 'minor' }); // outlived two scavenges: in the old generation now
      held = null;
      const before = external();
      reclaim(1 << 20);
      await new Promise((resolve) => setTimeout(resolve, 200)); // V8 frees swept buffers off the main thread
      console.log(JSON.stringify({ before, after: external() }));
      `,
      ['--expose-gc'],
    );
    expect(before - after).toBeGreaterThan(10 * 1024 * 1024);
  });

  it('a reclaimer for sends collects in full, without a scavenge first, once the heap has grown by 8 MiB of dead objects', () => {
    const { before, after } = inChild(
      `
      const used = () => v8.getHeapStatistics().used_heap_size;
      const reclaim = reclaimer(1 << 20, { scavenge: false });
      reclaim(1 << 20); // its low mark: now
      let held = Array.from({ length: 200000 }, (_, i) => ({ i, name: 'x' + i })); // about 12 MiB
      gc({ type: 'minor' });
      gc({ type: 'minor' }); // outlived two scavenges: in the old generation now
      held = null;
      const before = used();
      reclaim(1 << 20);
      console.log(JSON.stringify({ before, after: used() }));
      `,
      ['--expose-gc'],
    );
    expect(before - after).toBeGreaterThan(8 * 1024 * 1024);
  });
});
