/**
 * The report page's HTML: escaping, tables, and a self-contained shell that inlines Vega, Vega-Lite
 * and vega-embed (minified, from node_modules) and the chart specs, so the page opens offline.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { MorphoprofError } from '../errors.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text (any value) as HTML text or attribute content. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** JSON that is safe inside a <script> element (no `</script>`, no `<!--`, no line separators). */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Already-escaped HTML, as opposed to text. */
export interface Html {
  html: string;
}
export const raw = (html: string): Html => ({ html });
const cell = (value: unknown): string => (value !== null && typeof value === 'object' && 'html' in value ? (value as Html).html : escapeHtml(value));

/** A table; cells are text (escaped here) or `raw(...)` HTML. */
export function htmlTable(columns: readonly string[], rows: ReadonlyArray<readonly unknown[]>, className = ''): string {
  const head = columns.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((v) => `<td>${cell(v)}</td>`).join('')}</tr>`).join('\n');
  return `<table${className ? ` class="${escapeHtml(className)}"` : ''}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const LIBRARIES = [
  ['vega', 'vega.min.js'],
  ['vega-lite', 'vega-lite.min.js'],
  ['vega-embed', 'vega-embed.min.js'],
] as const;

/**
 * Where the page's Vega scripts come from: node_modules here; the browser page (web/) gives the
 * copies it serves beside itself (`useLibraryScripts`), as it has no node_modules to read.
 */
let librarySource: () => string[] = nodeLibraryScripts;

/** Use `source` for the Vega, Vega-Lite and vega-embed builds (in that order) inlined in pages. */
export function useLibraryScripts(source: () => string[]): void {
  librarySource = () => source().map((text) => text.replace(/<\/(script)/gi, '<\\/$1'));
}

/** The browser builds of Vega, Vega-Lite and vega-embed inlined in report pages. */
export function libraryScripts(): string[] {
  return librarySource();
}

/** The browser builds of Vega, Vega-Lite and vega-embed, next to each package's main module. */
function nodeLibraryScripts(): string[] {
  const require = createRequire(import.meta.url);
  return LIBRARIES.map(([name, file]) => {
    let full = '';
    try {
      full = path.join(path.dirname(require.resolve(name)), file);
      // A literal `</script` would end the inline script early; minified builds have none, but be safe.
      return readFileSync(full, 'utf8').replace(/<\/(script)/gi, '<\\/$1');
    } catch (cause) {
      throw new MorphoprofError('INTERNAL', `Could not read the ${name} browser build ${full || file}`, 'reinstall morphoprof\'s dependencies (npm ci)', { cause });
    }
  });
}

const STYLE = `
:root { --ink: #1d2733; --muted: #5b6776; --line: #d9dee5; --ok: #1a7f37; --bad: #b42318; --bg: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; color: var(--ink); }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
p { margin: 6px 0 10px; max-width: 78ch; }
.sub, .muted { color: var(--muted); font-size: 13px; }
.cards { display: flex; flex-wrap: wrap; gap: 14px; margin: 18px 0 6px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; min-width: 210px; background: var(--bg); }
.card .label { font-size: 13px; color: var(--muted); }
.card .value { font-size: 30px; font-weight: bold; }
.card .detail { font-size: 13px; }
.notes { border-left: 4px solid #e0a000; background: #fff8e1; padding: 8px 14px; margin: 14px 0; }
.chart { margin: 8px 0 4px; min-height: 40px; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.scroll { max-height: 520px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { position: sticky; top: 0; background: #eef1f5; }
tbody tr:nth-child(even) { background: #fafbfc; }
td .ok { color: var(--ok); font-weight: bold; }
td .bad { color: var(--bad); font-weight: bold; }
table.kv th { width: 16em; }
code { font-size: 12px; word-break: break-all; }
h3 { font-size: 16px; margin: 22px 0 6px; }
.gallery { display: flex; flex-wrap: wrap; gap: 14px; }
figure.picture { margin: 0; padding: 6px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); max-width: 360px; }
figure.picture figcaption { font-size: 13px; margin-top: 4px; }
.pair { display: flex; gap: 4px; align-items: flex-start; }
img.pic { display: block; background: #000; }
td img.pic { width: 88px; height: auto; }
#vg-tooltip-element img.tooltip-picture { display: block; width: 176px; height: auto; margin: 2px 0 4px; background: #000; }
`;

/**
 * Fills every `<img data-picture=id>` from the pictures store, then draws every chart: the element
 * with id `key` gets the spec `specs[key]`. A tooltip field titled "Picture" holds a picture id:
 * the tooltip shows that picture above the other fields instead of the id.
 */
const EMBED = `
(function () {
  var store = document.getElementById('morphoprof-pictures');
  var pictures = store ? JSON.parse(store.textContent) : {};
  document.querySelectorAll('img[data-picture]').forEach(function (img) {
    var src = pictures[img.getAttribute('data-picture')];
    if (src) img.src = src;
  });
  function formatTooltip(value, valueToHtml) {
    if (value === null || typeof value !== 'object') return valueToHtml(value);
    var picture = '';
    var rows = '';
    Object.keys(value).forEach(function (key) {
      if (key === 'Picture') {
        if (pictures[value[key]]) picture = '<img class="tooltip-picture" alt="" src="' + pictures[value[key]] + '">';
        return;
      }
      rows += '<tr><td class="key">' + valueToHtml(key) + '</td><td class="value">' + valueToHtml(value[key]) + '</td></tr>';
    });
    return picture + '<table>' + rows + '</table>';
  }
  var specsElement = document.getElementById('morphoprof-specs');
  var specs = specsElement ? JSON.parse(specsElement.textContent) : {};
  var options = { mode: 'vega-lite', renderer: 'svg', tooltip: { formatTooltip: formatTooltip }, actions: { export: true, source: false, compiled: false, editor: false } };
  Object.keys(specs).forEach(function (id) {
    var el = document.getElementById(id);
    vegaEmbed(el, specs[id], options).then(function () {
      el.setAttribute('data-rendered', 'true');
    }).catch(function (err) {
      el.setAttribute('data-rendered', 'error');
      el.textContent = 'This chart could not be drawn: ' + err;
      console.error(err);
    });
  });
})();
`;

/**
 * The whole page: `body` is HTML; `specs` maps the id of an empty element in it to a Vega-Lite spec;
 * `pictures` maps picture ids to data URIs (./gallery.ts). A page without charts leaves Vega out.
 */
export function htmlPage(title: string, body: string, specs: Record<string, unknown>, pictures: Record<string, string> = {}): string {
  const charts = Object.keys(specs).length > 0;
  const scripts = (charts ? libraryScripts() : [])
    .map((js) => `<script>${js}</script>`)
    .join('\n');
  const store = Object.keys(pictures).length ? `<script type="application/json" id="morphoprof-pictures">${scriptJson(pictures)}</script>\n` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="morphoprof">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
${scripts}
</head>
<body>
<main>
<noscript><p class="notes">The charts need JavaScript; the same figures are in the run's figures/ folder as PNG and SVG.</p></noscript>
${body}
</main>
${store}<script type="application/json" id="morphoprof-specs">${scriptJson(specs)}</script>
<script>${EMBED}</script>
</body>
</html>
`;
}
