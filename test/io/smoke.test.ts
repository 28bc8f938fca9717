import { describe, expect, it } from 'vitest';
import { SocketFile } from '../../src/io/index.js';
import { duplexPair } from '../helpers/duplex-pair.js';
import { loopbackPair } from '../helpers/loopback.js';

describe('SocketFile smoke', () => {
  it('reads a line then bytes over the in-memory pair', async () => {
    const [a, b] = duplexPair();
    const fa = new SocketFile(a);
    const fb = new SocketFile(b);
    await fa.write('HELLO x\r\nabcdef');
    await fa.end();
    expect(await fb.readLine()).toBe('HELLO x');
    expect((await fb.readExactly(3)).toString()).toBe('abc');
    expect((await fb.readToEnd()).toString()).toBe('def');
    expect(await fb.readLine()).toBeNull();
  });

  it('round trips over loopback', async () => {
    const pair = await loopbackPair();
    const c = new SocketFile(pair.client);
    const s = new SocketFile(pair.server);
    await c.writeLine('ping ✓');
    expect(await s.readLine()).toBe('ping ✓');
    await pair.close();
  });
});
