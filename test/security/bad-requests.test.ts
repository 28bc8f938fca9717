/**
 * Hostile requests against a live server with uploads on, table-driven: every row is the raw
 * bytes a peer sends and what the server must answer (`ERR <code>`, and whether it then
 * keeps the connection in step or closes it). The served root sits in a jail folder that also
 * holds an outside file and a sibling folder sharing the root's name as a prefix; after the
 * table, nothing outside the root was read (no secret in any reply) or written (the jail,
 * minus the root, is unchanged, mtimes included).
 */
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerPool, type RawPeer } from '../helpers/raw-peer.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { GOOD_TEXT, leakedSecret, makeJail, snapshot, type Jail } from './jail.js';

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const SHA_GOOD = sha(GOOD_TEXT);
const MB = 1024 * 1024;

type Step =
  /** Raw bytes or text, sent as they are. */
  | { send: string | Buffer }
  /** The next line is `ERR <code>` (alternatives with '|'), with or without a message. */
  | { err: string }
  /** The next line matches. */
  | { line: RegExp }
  /** Exactly these bytes come next. */
  | { body: Buffer }
  /** A LIST reply's entries up to '.': these names are there, those are not. */
  | { list: { has: string[]; hasNot: string[] } }
  /** Send this many bytes with no newline, as fast as the server takes them, sampling memory. */
  | { flood: number }
  /** Anything else, on the raw peer. */
  | { run: (peer: RawPeer) => Promise<void> };

interface Row {
  name: string;
  steps: Step[];
  /** 'open': a good GET still works on the same connection afterwards; 'close': the server closes. */
  then: 'open' | 'close';
  /** Send HELLO first (default); false to test what a first line does (bare selectors). */
  hello?: boolean;
  /** 'short': the server with a 300 ms idle timeout. */
  server?: 'main' | 'short';
  /** Checks on the disk after the row. */
  check?: () => Promise<void>;
}

const line = (text: string): Step => ({ send: `${text}\r\n` });
const err = (code: string): Step => ({ err: code });
/** A selector's refusal: Gopher's error item (type 3) carrying the code, then the close. */
const gopherErr = (code: string): Step => ({
  run: async (peer) => void expect((await peer.untilClosed()).toString()).toMatch(new RegExp(`^3${code}: [^\\r\\n]*\\t\\terror\\.host\\t1\\r\\n\\.\\r\\n$`)),
});

let jail: Jail;
let main: TestServer;
let short: TestServer;
const pool = new PeerPool();

beforeAll(async () => {
  jail = await makeJail();
  main = await startServer({ root: jail.root, allowUpload: true, allowOverwrite: true, idleTimeoutMs: 10_000 });
  short = await startServer({ root: jail.root, allowUpload: true, idleTimeoutMs: 300 });
});

afterAll(async () => {
  pool.destroyAll();
  await main?.close();
  await short?.close();
  await jail?.remove();
});

// ---------------------------------------------------------------------------------------------
// The rows

/** A path spelled some hostile way, and what read verbs and write verbs must answer. */
interface Spelling {
  path: string;
  read: string;
  /** null: not tried with PUT/MKDIR here (a harmless literal name that a write would create). */
  write: string | null;
  why: string;
}

const TRAVERSALS: Spelling[] = [
  { path: '..', read: 'BAD_PATH', write: 'BAD_PATH', why: 'bare ..' },
  { path: '../outside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: '../' },
  { path: '/../outside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'rooted ../' },
  { path: 'sub/../../outside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'inner ../..' },
  { path: '%2e%2e/outside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: '%2e%2e' },
  { path: '%2E%2e/outside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'mixed-case %2E%2e' },
  { path: '%2e%2e%2foutside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'encoded slash too' },
  { path: 'sub%2F%2E%2E%2F%2E%2E%2Foutside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'all encoded' },
  // Decoded once it is the literal name '%2e%2e': a folder that does not exist. Decoding twice
  // would make it '..'.
  { path: '%252e%252e/outside.txt', read: 'NOT_FOUND', write: null, why: 'double encoding' },
  { path: '%C0%AE%C0%AE/outside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'overlong UTF-8 2-byte dots' },
  { path: '%E0%80%AE%E0%80%AE/outside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'overlong UTF-8 3-byte dots' },
  { path: '%C0%AF', read: 'BAD_PATH', write: 'BAD_PATH', why: 'overlong UTF-8 slash' },
  { path: '\uff0e\uff0e/outside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'raw fullwidth dots' },
  { path: '%EF%BC%8E%EF%BC%8E/outside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'encoded fullwidth dots' },
  { path: '\u2024\u2024/outside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'one-dot leaders' },
  { path: '\u2025/outside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'two-dot leader' },
  { path: '%E2%80%A5/outside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'encoded two-dot leader' },
  { path: '..%EF%BC%8Foutside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'fullwidth solidus' },
  { path: '..\\outside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'raw backslash' },
  { path: '..%5Coutside.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'encoded backslash' },
  { path: '%5C%5Cserver%5Cshare', read: 'BAD_PATH', write: 'BAD_PATH', why: 'encoded UNC' },
  { path: '\\\\server\\share', read: 'BAD_PATH', write: 'BAD_PATH', why: 'raw UNC' },
  // A leading '/' is the served root: this names data/etc/passwd, which does not exist.
  { path: '/etc/passwd', read: 'NOT_FOUND', write: null, why: 'absolute path is root-relative' },
  { path: '//etc/passwd', read: 'BAD_PATH', write: 'BAD_PATH', why: '// (network share)' },
  { path: `/${'x'.repeat(10)}/..`, read: 'BAD_PATH', write: 'BAD_PATH', why: 'trailing ..' },
  { path: 'C:/x', read: 'BAD_PATH', write: 'BAD_PATH', why: 'drive letter' },
  { path: 'c:%5Cx', read: 'BAD_PATH', write: 'BAD_PATH', why: 'drive letter and backslash' },
  { path: 'sub/Z:ads', read: 'BAD_PATH', write: 'BAD_PATH', why: 'drive letter in a later name' },
  { path: 'CON', read: 'BAD_PATH', write: 'BAD_PATH', why: 'device CON' },
  { path: 'nul.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'device NUL with extension' },
  { path: 'COM1', read: 'BAD_PATH', write: 'BAD_PATH', why: 'device COM1' },
  { path: 'sub/LPT9.log', read: 'BAD_PATH', write: 'BAD_PATH', why: 'device LPT9 in a folder' },
  { path: 'a%00b', read: 'BAD_PATH', write: 'BAD_PATH', why: 'encoded NUL' },
  { path: 'good.txt%00.png', read: 'BAD_PATH', write: 'BAD_PATH', why: 'NUL truncation trick' },
  { path: 'a\u0000b', read: 'BAD_PATH', write: 'BAD_PATH', why: 'raw NUL' },
  { path: 'a%0Ab', read: 'BAD_PATH', write: 'BAD_PATH', why: 'encoded LF' },
  { path: 'a%0D%0AGET%20good.txt', read: 'BAD_PATH', write: 'BAD_PATH', why: 'encoded CRLF injection' },
  { path: 'a\rb', read: 'BAD_PATH', write: 'BAD_PATH', why: 'raw CR' },
  { path: 'a\tb', read: 'BAD_PATH', write: 'BAD_PATH', why: 'raw TAB' },
  { path: 'a%7Fb', read: 'BAD_PATH', write: 'BAD_PATH', why: 'DEL' },
  { path: 'a%C2%85b', read: 'BAD_PATH', write: 'BAD_PATH', why: 'C1 control' },
  { path: 'a%1B[31m', read: 'BAD_PATH', write: 'BAD_PATH', why: 'terminal escape' },
  { path: 'a.', read: 'BAD_PATH', write: 'BAD_PATH', why: 'trailing dot' },
  { path: 'a%20', read: 'BAD_PATH', write: 'BAD_PATH', why: 'trailing space' },
  { path: 'good.txt.', read: 'BAD_PATH', write: 'BAD_PATH', why: 'trailing dot on a real name' },
  { path: 'e%CC%81', read: 'BAD_PATH', write: 'BAD_PATH', why: 'non-NFC e + U+0301' },
  { path: 'cafe\u0301', read: 'BAD_PATH', write: 'BAD_PATH', why: 'raw non-NFC' },
  { path: '%ED%A0%80', read: 'BAD_PATH', write: 'BAD_PATH', why: 'encoded surrogate' },
  { path: '%F4%90%80%80', read: 'BAD_PATH', write: 'BAD_PATH', why: 'past U+10FFFF' },
  { path: '%2', read: 'BAD_PATH', write: 'BAD_PATH', why: 'cut escape' },
  { path: '%zz', read: 'BAD_PATH', write: 'BAD_PATH', why: 'non-hex escape' },
  { path: `${'a'.repeat(256)}`, read: 'BAD_PATH', write: 'BAD_PATH', why: 'name over 255 bytes' },
  // Partial files are hidden from every verb, by name or through a symlink.
  { path: '.x.tcpsend-part', read: 'FORBIDDEN', write: 'FORBIDDEN', why: 'partial file' },
  { path: 'sub/.y.tcpsend-part', read: 'FORBIDDEN', write: 'FORBIDDEN', why: 'partial file in a folder' },
  { path: 'to-part', read: 'FORBIDDEN', write: 'FORBIDDEN', why: 'symlink to a partial file' },
];

/** Symlinks in the root that lead out; the write paths go through them. */
const SYMLINKS: Array<{ read: string; write: string; why: string }> = [
  { read: 'out', write: 'out', why: 'direct link to outside.txt' },
  { read: 'rel-out', write: 'rel-out', why: 'relative link to outside.txt' },
  { read: 'chain1', write: 'chain1', why: 'chain of two links' },
  { read: 'up/outside.txt', write: 'up/new.txt', why: 'link to the parent, then a file' },
  { read: 'up', write: 'up/newdir/new.txt', why: 'link to the parent itself' },
  { read: 'up-rel/outside.txt', write: 'up-rel/outside.txt', why: 'relative link to ..' },
  { read: 'up/data-evil/secret.txt', write: 'up/data-evil/new.txt', why: 'parent link, then the sibling' },
  { read: 'evil/secret.txt', write: 'evil/new.txt', why: 'link to the prefix sibling' },
  { read: 'evil', write: 'evil/sub/new.txt', why: 'the prefix sibling itself' },
  { read: 'evil-rel/secret.txt', write: 'evil-rel/new.txt', why: 'relative link to the sibling' },
];

function verbRows(path: string, code: string, why: string, verbs: string[]): Row[] {
  const forms: Record<string, string> = {
    GET: `GET ${path}`,
    STAT: `STAT ${path} hash=1`,
    LIST: `LIST ${path} recursive=1`,
    HASH: `HASH ${path}`,
    // The two-step form: a refusal comes before any body, so the connection stays in step.
    PUT: `PUT ${path} size=5 overwrite=1`,
    MKDIR: `MKDIR ${path} mode=755`,
  };
  return verbs.map((verb) => ({
    name: `${verb} ${JSON.stringify(path)} (${why}) → ${code}`,
    steps: [line(forms[verb]!), err(code)],
    then: 'open',
  }));
}

/** A one-step PUT: request line, body and END at once. */
function eagerPut(path: string, body: string | Buffer, fields = '', endSha = sha(body)): Step {
  const bytes = Buffer.from(body);
  return {
    send: Buffer.concat([
      Buffer.from(`PUT ${path} size=${bytes.length} offset=0${fields ? ` ${fields}` : ''}\r\n`),
      bytes,
      Buffer.from(`END sha256=${endSha}\r\n`),
    ]),
  };
}

async function exists(file: string): Promise<boolean> {
  return fsp.lstat(file).then(
    () => true,
    () => false,
  );
}

function buildRows(): Row[] {
  const rows: Row[] = [];
  const READ = ['GET', 'STAT', 'LIST', 'HASH'];
  const WRITE = ['PUT', 'MKDIR'];

  // Controls: what a good request looks like, so a row cannot pass by the server being dead.
  rows.push({
    name: 'a symlink that stays inside the root is followed',
    steps: [line('GET inside-link'), { line: /^OK size=13 offset=0 length=13 / }, { body: Buffer.from(GOOD_TEXT) }, { line: new RegExp(`^OK sha256=${SHA_GOOD}$`) }],
    then: 'open',
  });
  rows.push({
    name: 'LIST / recursive=1 leaves out partial files and every link that leads out',
    steps: [
      line('LIST / recursive=1'),
      { line: /^OK type=dir$/ },
      {
        list: {
          has: ['good.txt', 'f.bin', 'sub', 'sub/inner.txt', 'inside-link'],
          hasNot: ['out', 'rel-out', 'chain1', 'chain2', 'up', 'up-rel', 'evil', 'evil-rel', 'to-part', '.x.tcpsend-part', 'sub/.y.tcpsend-part'],
        },
      },
    ],
    then: 'open',
  });

  for (const s of TRAVERSALS) {
    rows.push(...verbRows(s.path, s.read, s.why, READ));
    if (s.write !== null) rows.push(...verbRows(s.path, s.write, s.why, WRITE));
  }
  for (const s of SYMLINKS) {
    rows.push(...verbRows(s.read, 'FORBIDDEN', s.why, READ));
    rows.push(...verbRows(s.write, 'FORBIDDEN', `${s.why}, written through`, WRITE));
  }
  // Raw bytes that are not UTF-8 reach the server's line reader, which replaces them with
  // U+FFFD: never a traversal (refused, or a name that does not exist).
  rows.push({
    name: 'raw overlong UTF-8 dots (not percent-encoded)',
    steps: [{ send: Buffer.concat([Buffer.from('GET '), Buffer.from([0xc0, 0xae, 0xc0, 0xae]), Buffer.from('/outside.txt\r\n')]) }, err('BAD_PATH|NOT_FOUND')],
    then: 'open',
  });

  // Writes through links that lead out, in the one-step form: the server must refuse them and
  // still read past the body and its END, or the body would run as requests on this connection.
  const smuggled = 'MKDIR smuggled\r\n';
  for (const [target, code] of [
    ['evil/smuggle.txt', 'FORBIDDEN'],
    ['up/smuggle.txt', 'FORBIDDEN'],
    ['out', 'FORBIDDEN'],
    ['../smuggle.txt', 'BAD_PATH'],
    ['.x.tcpsend-part', 'FORBIDDEN'],
    ['good.txt/smuggle.txt', 'NOT_DIRECTORY'],
    ['sub', 'IS_DIRECTORY'],
  ] as const) {
    rows.push({
      name: `one-step PUT ${target} → ${code}, and its body is read past, not run`,
      steps: [eagerPut(target, smuggled), err(code)],
      then: 'open',
      check: async () => {
        expect(await exists(path.join(jail.root, 'smuggled')), 'the body ran as a request').toBe(false);
      },
    });
  }

  // Harmless literal names are written inside the root, nowhere else.
  const absName = `tcpsend-abs-${path.basename(jail.dir)}.txt`;
  rows.push(
    {
      name: 'PUT %252e%252e/lit.txt writes the literal name %2e%2e inside the root',
      steps: [eagerPut('%252e%252e/lit.txt', 'abc'), { line: new RegExp(`^OK size=3 sha256=${sha('abc')}$`) }],
      then: 'open',
      check: async () => {
        expect(await fsp.readFile(path.join(jail.root, '%2e%2e', 'lit.txt'), 'utf8')).toBe('abc');
      },
    },
    {
      name: 'PUT /tmp/… (absolute) lands under the root, not in /tmp',
      steps: [eagerPut(`/tmp/${absName}`, 'abs'), { line: /^OK size=3 / }],
      then: 'open',
      check: async () => {
        expect(await fsp.readFile(path.join(jail.root, 'tmp', absName), 'utf8')).toBe('abs');
        expect(await exists(path.join(os.tmpdir(), absName))).toBe(false);
      },
    },
    {
      // Hidden files are not shared by default: no `.bashrc`, `.ssh/authorized_keys` upload.
      name: 'PUT .bashrc is refused (hidden files are off by default), and the body is read past',
      steps: [eagerPut('.bashrc', 'echo pwned\n'), { line: /^ERR FORBIDDEN .*hidden files/ }],
      then: 'open',
      check: async () => {
        expect(await exists(path.join(jail.root, '.bashrc'))).toBe(false);
      },
    },
    {
      name: 'MKDIR .ssh is refused',
      steps: [line('MKDIR .ssh'), { line: /^ERR FORBIDDEN / }],
      then: 'open',
      check: async () => {
        expect(await exists(path.join(jail.root, '.ssh'))).toBe(false);
      },
    },
    {
      name: 'PUT mode=4755: setuid, setgid and sticky bits are dropped',
      steps: [eagerPut('suid.sh', '#!/bin/sh\n', 'mode=7755'), { line: /^OK size=10 / }],
      then: 'open',
      check: async () => {
        expect((await fsp.stat(path.join(jail.root, 'suid.sh'))).mode & 0o7777).toBe(0o755);
      },
    },
  );

  // Numbers: negative, huge, fractional, hex, exponent, signed, leading zero, empty, escaped.
  const BAD_NUMBERS = ['-1', '%2D1', '9007199254740992', '18446744073709551616', '1.5', '0x10', '1e3', '+1', '01', '', '%EF%BC%91', 'NaN', 'Infinity'];
  for (const n of BAD_NUMBERS) {
    for (const req of [`GET f.bin offset=${n}`, `GET f.bin length=${n}`, `HASH f.bin offset=${n}`, `PUT n.bin size=${n}`, `MKDIR d mtime=${n}`]) {
      rows.push({ name: `${req} → BAD_REQUEST`, steps: [line(req), err('BAD_REQUEST')], then: 'open' });
    }
  }
  rows.push(
    { name: 'PUT without size', steps: [line('PUT n.bin'), err('BAD_REQUEST')], then: 'open' },
    { name: 'PUT offset=5 (only 0 is a form)', steps: [line('PUT n.bin size=9 offset=5'), err('BAD_REQUEST')], then: 'open' },
    { name: 'mode=8 is not octal', steps: [line('MKDIR d mode=8'), err('BAD_REQUEST')], then: 'open' },
    { name: 'mode=17777 is five digits', steps: [line('MKDIR d mode=17777'), err('BAD_REQUEST')], then: 'open' },
    { name: 'GET offset past the end', steps: [line('GET f.bin offset=999999'), err('BAD_RANGE')], then: 'open' },
    { name: 'GET offset one past the end', steps: [line('GET f.bin offset=1001'), err('BAD_RANGE')], then: 'open' },
    { name: 'HASH range past the end', steps: [line('HASH f.bin offset=10 length=991'), err('BAD_RANGE')], then: 'open' },
    { name: 'HASH offset past the end', steps: [line('HASH f.bin offset=9007199254740991'), err('BAD_RANGE')], then: 'open' },
    { name: 'PUT size=2^53-1 is refused before any body', steps: [line('PUT huge.bin size=9007199254740991'), err('TOO_LARGE')], then: 'open' },
    {
      name: 'one-step PUT with an mtime no Date can hold',
      steps: [eagerPut('mt.bin', 'abc', 'mtime=9007199254740991'), err('BAD_REQUEST')],
      then: 'open',
      check: async () => expect(await exists(path.join(jail.root, 'mt.bin'))).toBe(false),
    },
  );

  // Checksums: 63 and 65 hex digits, not hex, empty.
  const BAD_SHAS = ['a'.repeat(63), 'a'.repeat(65), 'g'.repeat(64), '', `${'a'.repeat(63)}%20`];
  BAD_SHAS.forEach((bad, i) => {
    rows.push(
      { name: `PUT sha256=${bad.length} chars`, steps: [line(`PUT c${i}.bin size=3 sha256=${bad}`), err('BAD_REQUEST')], then: 'open' },
      { name: `GET prefix_sha256=${bad.length} chars`, steps: [line(`GET f.bin offset=10 prefix_sha256=${bad}`), err('BAD_REQUEST')], then: 'open' },
      // The body was read; the END line itself is bad: the server answers and closes.
      {
        name: `END sha256=${bad.length} chars after a one-step body`,
        steps: [eagerPut(`e${i}.bin`, 'abc', '', bad), err('BAD_REQUEST')],
        then: 'close',
        check: async () => expect(await exists(path.join(jail.root, `e${i}.bin`))).toBe(false),
      },
      {
        name: `END sha256=${bad.length} chars after a two-step body`,
        steps: [line(`PUT t${i}.bin size=3`), { line: /^OK offset=0$/ }, { send: 'DATA offset=0\r\nabc' }, line(`END sha256=${bad}`), err('BAD_REQUEST')],
        then: 'close',
        check: async () => expect(await exists(path.join(jail.root, `t${i}.bin`))).toBe(false),
      },
    );
  });
  rows.push(
    {
      name: 'END with a valid but wrong SHA-256: CHECKSUM_MISMATCH, nothing stored',
      steps: [eagerPut('w.bin', 'abc', '', sha('abd')), err('CHECKSUM_MISMATCH')],
      then: 'open',
      check: async () => {
        expect(await exists(path.join(jail.root, 'w.bin'))).toBe(false);
        expect(await exists(path.join(jail.root, '.w.bin.tcpsend-part'))).toBe(false);
      },
    },
    {
      name: 'PUT sha256 and END sha256 disagree',
      steps: [eagerPut('w2.bin', 'abc', `sha256=${sha('abd')}`), err('CHECKSUM_MISMATCH')],
      then: 'open',
    },
    { name: 'DATA with an offset the server did not offer', steps: [line('PUT d.bin size=3'), { line: /^OK offset=0$/ }, line('DATA offset=2'), err('BAD_REQUEST')], then: 'close' },
  );

  // Verbs and grammar.
  for (const [req, code] of [
    ['FROB good.txt', 'UNKNOWN_VERB'],
    // DELETE is a verb now, refused unless the server runs with --allow-delete.
    ['DELETE good.txt', 'FORBIDDEN'],
    ['RMDIR good.txt', 'UNKNOWN_VERB'],
    ['RM -rf /', 'UNKNOWN_VERB'],
    ['GETX good.txt', 'UNKNOWN_VERB'],
    ['get good.txt', 'BAD_REQUEST'],
    ['Get good.txt', 'BAD_REQUEST'],
    ['pUT n.bin size=1', 'BAD_REQUEST'],
    ['G3T good.txt', 'BAD_REQUEST'],
    ['GET\u0000 good.txt', 'BAD_REQUEST'],
    ['\u0000', 'BAD_REQUEST'],
    ['', 'BAD_REQUEST'],
    ['    ', 'BAD_REQUEST'],
    ['GET', 'BAD_REQUEST'],
    ['GET good.txt f.bin', 'BAD_REQUEST'],
    ['GET good.txt offset=1 offset=2', 'BAD_REQUEST'],
    ['GET good.txt OFFSET=1', 'BAD_REQUEST'],
    ['GET good.txt =1', 'BAD_REQUEST'],
    ['GET good.txt offset=%zz', 'BAD_REQUEST'],
    ['HELLO good.txt', 'BAD_REQUEST'],
    ['QUIT now', 'BAD_REQUEST'],
    ['DATA offset=0', 'BAD_REQUEST'],
    [`END sha256=${SHA_GOOD}`, 'BAD_REQUEST'],
    ['ABORT', 'BAD_REQUEST'],
  ] as const) {
    rows.push({ name: `${JSON.stringify(req)} → ${code}`, steps: [line(req), err(code)], then: 'open' });
  }

  // Lines: the limit is 8192 bytes; past it the stream has lost its place and is closed.
  rows.push(
    { name: 'a line of exactly 8192 bytes is read (its name is too long)', steps: [line(`GET ${'a'.repeat(8188)}`), err('BAD_PATH')], then: 'open' },
    { name: 'a line of 8193 bytes', steps: [line(`GET ${'a'.repeat(8189)}`), err('LINE_TOO_LONG')], then: 'close' },
    { name: 'a 10 MB line without a newline: answered and cut, never buffered', steps: [{ flood: 10 * MB }, err('LINE_TOO_LONG')], then: 'close' },
  );

  // A PUT that declares more than it sends, then goes silent: timeout, close, part kept.
  const slowBody = Buffer.alloc(400, 0x5a);
  rows.push({
    name: 'PUT size=1000, 400 bytes, silence → ERR TIMEOUT and close; the part keeps the 400 bytes',
    server: 'short',
    steps: [
      line('PUT slow.bin size=1000'),
      { line: /^OK offset=0$/ },
      { send: Buffer.concat([Buffer.from('DATA offset=0\r\n'), slowBody]) },
      {
        run: async (peer) => {
          const started = Date.now();
          expect(await peer.line()).toMatch(/^ERR TIMEOUT /);
          expect(Date.now() - started).toBeGreaterThanOrEqual(250);
        },
      },
    ],
    then: 'close',
    check: async () => {
      expect(await exists(path.join(jail.root, 'slow.bin'))).toBe(false);
      expect(await fsp.readFile(path.join(jail.root, '.slow.bin.tcpsend-part'))).toEqual(slowBody);
    },
  });

  // A range the peer reads greedily: exactly `length` body bytes, then the trailer, nothing else.
  rows.push({
    name: 'GET offset=10 length=5 read to the end: 5 body bytes, the trailer, then QUIT\'s OK',
    steps: [
      line('GET f.bin offset=10 length=5'),
      line('QUIT'),
      {
        run: async (peer) => {
          const all = await peer.untilClosed(5000);
          const headerEnd = all.indexOf('\r\n');
          const header = all.subarray(0, headerEnd).toString();
          expect(header).toMatch(/^OK size=1000 offset=10 length=5 mtime=\d+ mode=644$/);
          const rest = all.subarray(headerEnd + 2);
          expect(rest.subarray(0, 5)).toEqual(jail.fbin.subarray(10, 15));
          expect(rest.subarray(5).toString('latin1')).toBe(`OK sha256=${sha(jail.fbin)}\r\nOK\r\n`);
        },
      },
    ],
    then: 'close',
  });

  // The same for a range of a large file, which is streamed rather than sent in one write.
  rows.push({
    name: 'GET big.bin offset=100 length=300000 read to the end: exactly that range, the trailer, QUIT\'s OK',
    steps: [
      line('GET big.bin offset=100 length=300000'),
      line('QUIT'),
      {
        run: async (peer) => {
          const all = await peer.untilClosed(5000);
          const headerEnd = all.indexOf('\r\n');
          expect(all.subarray(0, headerEnd).toString()).toMatch(/^OK size=1048576 offset=100 length=300000 mtime=\d+ mode=644/);
          const rest = all.subarray(headerEnd + 2);
          expect(rest.subarray(0, 300_000).equals(jail.bigbin.subarray(100, 300_100))).toBe(true);
          expect(rest.subarray(300_000).toString('latin1')).toBe(`OK sha256=${sha(jail.bigbin)}\r\nOK\r\n`);
        },
      },
    ],
    then: 'close',
  });

  // Pipelined GETs are prepared ahead of their turn: every one is still checked, answered in order.
  rows.push({
    name: 'pipelined hostile GETs around a good one: each refused in order, the good one served',
    steps: [
      { send: ['GET out', 'GET ../outside.txt', 'GET evil/secret.txt', 'GET good.txt', 'GET up/outside.txt', 'GET .x.tcpsend-part', 'GET f.bin offset=1001', 'GET chain1'].map((l) => `${l}\r\n`).join('') },
      err('FORBIDDEN'),
      err('BAD_PATH'),
      err('FORBIDDEN'),
      { line: /^OK size=13 offset=0 length=13 / },
      { body: Buffer.from(GOOD_TEXT) },
      { line: new RegExp(`^OK sha256=${SHA_GOOD}$`) },
      err('FORBIDDEN'),
      err('FORBIDDEN'),
      err('BAD_RANGE'),
      err('FORBIDDEN'),
    ],
    then: 'open',
  });

  // Bare selectors: the first line of a connection, answered then closed, same path rules.
  for (const [selector, code] of [
    ['/../outside.txt', 'BAD_PATH'],
    ['/%2e%2e/outside.txt', 'BAD_PATH'],
    ['/%252e%252e/outside.txt', 'NOT_FOUND'],
    ['/out', 'FORBIDDEN'],
    ['/up/outside.txt', 'FORBIDDEN'],
    ['/evil/secret.txt', 'FORBIDDEN'],
    ['/evil', 'FORBIDDEN'],
    ['/.x.tcpsend-part', 'FORBIDDEN'],
    ['/etc/passwd', 'NOT_FOUND'],
    ['//etc/passwd', 'BAD_PATH'],
    ['/C:%5Cx', 'BAD_PATH'],
    ['\t../outside.txt', 'NOT_FOUND'], // a TAB ends the selector: this is '/' with a search
    // Without the leading '/' (the classic tutorial client): the same rules.
    ['../outside.txt', 'BAD_PATH'],
    ['%2e%2e/outside.txt', 'BAD_PATH'],
    ['evil/secret.txt', 'FORBIDDEN'],
    ['.x.tcpsend-part', 'FORBIDDEN'],
  ] as const) {
    const listing = selector.startsWith('\t');
    rows.push({
      name: `selector ${JSON.stringify(selector)} → ${listing ? 'the root listing' : code}`,
      hello: false,
      steps: listing
        ? [line(selector), { run: async (peer) => void expect((await peer.untilClosed()).toString()).toContain('good.txt\n') }]
        : [line(selector), gopherErr(code)],
      then: 'close',
    });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Running a row

async function expectGoodGet(peer: RawPeer): Promise<void> {
  await peer.sendLine('GET good.txt');
  expect(await peer.line(), 'the good GET after the row').toMatch(/^OK size=13 offset=0 length=13 /);
  expect((await peer.bytes(13)).toString()).toBe(GOOD_TEXT);
  expect(await peer.line()).toBe(`OK sha256=${SHA_GOOD}`);
}

/** Send `total` bytes of 'A' without a newline; returns the peak memory growth seen meanwhile. */
async function flood(peer: RawPeer, total: number): Promise<{ rss: number; arrayBuffers: number }> {
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  const base = process.memoryUsage();
  const peak = { rss: 0, arrayBuffers: 0 };
  const sample = () => {
    const now = process.memoryUsage();
    peak.rss = Math.max(peak.rss, now.rss - base.rss);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers - base.arrayBuffers);
  };
  const timer = setInterval(sample, 2);
  try {
    const { socket } = peer;
    for (let sent = 0; sent < total && !socket.destroyed; sent += chunk.length) {
      if (!socket.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            socket.off('drain', done);
            socket.off('close', done);
            resolve();
          };
          socket.on('drain', done);
          socket.on('close', done);
        });
      }
    }
    // Give the server time to show any buffering it would do.
    await new Promise((resolve) => setTimeout(resolve, 50));
    sample();
  } finally {
    clearInterval(timer);
  }
  return peak;
}

async function runRow(row: Row): Promise<void> {
  const server = row.server === 'short' ? short : main;
  const peer = await pool.connect(server.port);
  try {
    if (row.hello !== false) await peer.hello();
    for (const step of row.steps) {
      if ('send' in step) await peer.send(step.send);
      else if ('err' in step) {
        expect(await peer.line()).toMatch(new RegExp(`^ERR (?:${step.err})(?: |$)`));
      } else if ('line' in step) expect(await peer.line()).toMatch(step.line);
      else if ('body' in step) expect(await peer.bytes(step.body.length)).toEqual(step.body);
      else if ('list' in step) {
        const names: string[] = [];
        for (let entry = await peer.line(); entry !== '.'; entry = await peer.line()) {
          if (entry === null) throw new Error('the listing ended without its "."');
          names.push(decodeURIComponent(entry.split(' ')[0]!));
        }
        for (const name of step.list.has) expect(names).toContain(name);
        for (const name of step.list.hasNot) expect(names).not.toContain(name);
      } else if ('flood' in step) {
        const growth = await flood(peer, step.flood);
        // Buffering the line would cost at least 10 MB; the reader holds at most ~1 MB.
        expect(growth.arrayBuffers, 'Buffer memory grew while the line came in').toBeLessThan(4 * MB);
        expect(growth.rss, 'rss grew while the line came in').toBeLessThan(8 * MB);
      } else await step.run(peer);
    }
    if (row.then === 'open') await expectGoodGet(peer);
    else expect((await peer.untilClosed(3000)).toString()).toBe('');
    await row.check?.();
  } finally {
    peer.destroy();
  }
}

describe('hostile requests against a live server with uploads on', () => {
  it('every row gets its answer; nothing outside the root is read or written', async () => {
    const rows = buildRows();
    const before = await snapshot(jail.dir, jail.root);
    const failures: string[] = [];
    for (const row of rows) {
      try {
        await runRow(row);
      } catch (error) {
        failures.push(`${row.name}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    expect(failures).toEqual([]);
    expect(rows.length).toBeGreaterThan(300);

    // Nothing outside the root was read: no secret in any reply, nor the server's own path.
    expect(pool.history.length).toBe(rows.length);
    const leaks = pool.history
      .map((peer) => leakedSecret(peer.receivedBytes(), [...jail.secrets, 'root:x:0:0', jail.dir]))
      .filter((leak) => leak !== null);
    expect(leaks).toEqual([]);
    // Nothing outside the root was written, or touched (modes and mtimes included).
    expect(await snapshot(jail.dir, jail.root)).toEqual(before);
  });
});
