/**
 * A folder as an HTML page: one level, folders first, each name a link, with its size and
 * date; an upload form when the server takes uploads. Every name is escaped (escape-html), so
 * a file named `<script>…` shows as text; every link is built from percent-encoded segments.
 * Made to read on a phone: one column, large tap targets, no script at all.
 */
import escapeHtml from 'escape-html';
import { formatBytes } from '../../text/bytes.js';
import type { ListEntry } from '../root/index.js';

export interface FolderPage {
  /** The folder's decoded path, '/' for the root; shown as the title. */
  path: string;
  /** The serving machine's name, so a phone that sees several servers tells them apart. */
  host: string;
  entries: readonly ListEntry[];
  upload: boolean;
  /** The server replaces files when asked: the form offers the choice. */
  overwrite: boolean;
}

/** One path segment as it goes into an href: every byte outside the unreserved set escaped. */
function hrefSegment(name: string): string {
  return encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function date(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

const STYLE = `
body{font:16px/1.4 system-ui,sans-serif;margin:0 auto;max-width:48rem;padding:0 .75rem 2rem;color:#222;background:#fff}
h1{font-size:1.15rem;word-break:break-all;margin:1rem 0 .5rem}
h1 small{font-weight:400;color:#666;font-size:.85rem}
ul{list-style:none;margin:0;padding:0}
li{border-bottom:1px solid #e4e4e4}
li a{display:flex;gap:.75rem;justify-content:space-between;align-items:baseline;padding:.7rem .25rem;text-decoration:none;color:#0645ad;min-height:1.5rem}
li a:active,li a:hover{background:#f2f5fb}
.name{overflow-wrap:anywhere;flex:1}
.meta{color:#666;font-size:.85rem;white-space:nowrap;text-align:right}
.dir .name{font-weight:600}
.bar{display:flex;flex-wrap:wrap;gap:.5rem 1rem;margin:.5rem 0 1rem}
form{margin:1.5rem 0;padding:1rem;border:1px solid #ccc;border-radius:.5rem}
input[type=file]{display:block;margin:.5rem 0;max-width:100%}
button{font-size:1rem;padding:.6rem 1.2rem}
@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}li{border-color:#333}li a{color:#8ab4f8}li a:hover{background:#1d2330}.meta{color:#999}}
`;

export function renderFolderPage(page: FolderPage): string {
  const shown = page.path === '/' ? '/' : `/${page.path.replace(/^\/+|\/+$/g, '')}/`;
  const items: string[] = [];
  if (shown !== '/') items.push('<li class="dir"><a href="../"><span class="name">../</span><span class="meta">parent folder</span></a></li>');
  const sorted = [...page.entries].sort((a, b) => (a.type === b.type ? 0 : a.type === 'dir' ? -1 : 1));
  for (const e of sorted) {
    const dir = e.type === 'dir';
    const href = `${hrefSegment(e.path)}${dir ? '/' : ''}`;
    const meta = `${dir ? 'folder' : formatBytes(e.size ?? 0)} · ${date(e.mtimeMs)}`;
    items.push(
      `<li class="${dir ? 'dir' : 'file'}"><a href="${href}"><span class="name">${escapeHtml(e.path)}${dir ? '/' : ''}</span><span class="meta">${meta}</span></a></li>`,
    );
  }
  if (page.entries.length === 0) items.push('<li><span class="meta">(empty folder)</span></li>');
  const form = page.upload
    ? `<form method="post" enctype="multipart/form-data">
<label>Upload files into this folder<input type="file" name="file" multiple required></label>
${page.overwrite ? '<label><input type="checkbox" name="overwrite" value="1"> replace files that exist</label><br>' : ''}<button type="submit">Upload</button>
</form>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(shown)} · ${escapeHtml(page.host)}</title>
<style>${STYLE}</style></head>
<body><h1>${escapeHtml(shown)} <small>on ${escapeHtml(page.host)}</small></h1>
<div class="bar"><a href="?tar" download>Download this folder (.tar)</a></div>
<ul>
${items.join('\n')}
</ul>
${form}
</body></html>
`;
}

/** The page a server with a secret answers every plain HTTP request with. */
export function renderSecretPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>403 · tcpsend</title><style>${STYLE}</style></head>
<body><h1>This tcpsend server needs its secret</h1>
<p>It was started with a shared secret, so it only talks to tcpsend clients that hold that secret, over an encrypted connection. A web browser cannot, so it is not sent any file here.</p>
<p>Use <code>tcpsend get</code> with the secret (for example <code>TCPSEND_SECRET=… tcpsend ls HOST:PORT</code>), or ask whoever runs the server to start it without <code>--secret</code>.</p>
</body></html>
`;
}
