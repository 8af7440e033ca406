import assert from 'node:assert/strict';
import sharp from 'sharp';

/** The chart specs inlined in a report page, by element id. */
export function specsOf(html: string): Record<string, { data?: { values: Array<Record<string, unknown>> }; layer?: Array<{ data?: { values: Array<Record<string, unknown>> } }> }> {
  const match = /<script type="application\/json" id="morphoprof-specs">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(match, 'the page inlines its chart specs');
  return JSON.parse(match[1]!);
}

/** Elements that would load something from the network: script/link/img/... with an http(s) or protocol-relative source. */
export function externalSources(html: string): string[] {
  const tags = html.match(/<(script|link|img|iframe|source|embed|object|audio|video)\b[^>]*>/gi) ?? [];
  return tags.filter((tag) => /\b(src|href|data)\s*=\s*["']?\s*(https?:)?\/\//i.test(tag));
}

/** A PNG that sharp reads, of at least the given size, that is not blank. */
export async function assertPngFigure(file: string, minWidth = 300, minHeight = 150): Promise<void> {
  const image = sharp(file);
  const meta = await image.metadata();
  assert.equal(meta.format, 'png', `${file} is a PNG`);
  assert.ok(meta.width! >= minWidth && meta.height! >= minHeight, `${file} is ${meta.width}x${meta.height}`);
  assert.ok(meta.width! <= 8000 && meta.height! <= 8000, `${file} is not absurdly large`);
  const stats = await image.stats();
  const spread = Math.max(...stats.channels.slice(0, 3).map((c) => c.stdev));
  assert.ok(spread > 10, `${file} is not blank (largest channel stdev ${spread.toFixed(1)})`);
  assert.ok(Math.min(...stats.channels.slice(0, 3).map((c) => c.min)) < 80, `${file} has dark pixels (text, marks)`);
}
