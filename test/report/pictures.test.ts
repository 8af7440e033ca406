import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Command } from 'commander';
import sharp from 'sharp';
import { register } from '../../src/cli/report.js';
import { register as registerRun } from '../../src/cli/run.js';
import { MorphoprofError } from '../../src/errors.js';
import { readImage } from '../../src/image/index.js';
import { cellPictures, defaultComposite, parseComposite, pictureKey, writeReport, type CellPictures } from '../../src/report/index.js';
import { fieldKey } from '../../src/screen/types.js';
import { readTable } from '../../src/table/index.js';
import { tempDir } from '../helpers.js';
import { makePictureRun, type PictureRun } from './pictures-fixture.js';
import { externalSources, specsOf } from './support.js';

let shared: Promise<PictureRun> | undefined;
/** One synthetic screen and run for the file; tests that change it work on a copy. */
const pictureRun = (): Promise<PictureRun> => (shared ??= makePictureRun(tempDir('morphoprof-pictures-')));

/** A copy of the run folder (the screen is shared, read-only). */
async function copyRun(): Promise<string> {
  const run = await pictureRun();
  const dir = path.join(tempDir(), 'run');
  cpSync(run.dir, dir, { recursive: true });
  return dir;
}

const runJson = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8'));
const writeRunJson = (dir: string, value: unknown) => writeFileSync(path.join(dir, 'run.json'), JSON.stringify(value));

/** The picture store and the ids the page's <img> elements ask for. */
function pageImages(html: string): { store: Record<string, string>; wanted: string[] } {
  const match = /<script type="application\/json" id="morphoprof-pictures">([\s\S]*?)<\/script>/.exec(html);
  return { store: match ? JSON.parse(match[1]!) : {}, wanted: [...html.matchAll(/data-picture="([^"]+)"/g)].map((m) => m[1]!) };
}

const webpOf = (uri: string): Buffer => Buffer.from(uri.replace(/^data:image\/webp;base64,/, ''), 'base64');

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]! / n;
    mb += b[i]! / n;
  }
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i]! - ma) * (b[i]! - mb);
    aa += (a[i]! - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

test('--composite: stain:colour pairs, named colours or #rrggbb; bad input names what is wrong', () => {
  assert.deepEqual(parseComposite('DAPI:blue, Tubulin:#00ff00,Actin:RED').map((c) => [c.channel, c.color]), [
    ['DAPI', [0, 0, 1]],
    ['Tubulin', [0, 1, 0]],
    ['Actin', [1, 0, 0]],
  ]);
  assert.throws(() => parseComposite('DAPI:purple'), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_ARGUMENT' && /colour of DAPI/.test(e.message) && /#rrggbb/.test(e.message));
  assert.throws(() => parseComposite('DAPI'), (e: unknown) => e instanceof MorphoprofError && /DAPI:blue,Tubulin:green,Actin:red/.test(e.message));
  assert.throws(() => parseComposite('DAPI:blue,dapi:red'), (e: unknown) => e instanceof MorphoprofError && /given twice/.test(e.message));
  // default: DNA blue, tubulin green, actin red by name; other stains take the colours left, three at most
  assert.deepEqual(defaultComposite(['DAPI', 'Tubulin', 'Actin']).map((c) => `${c.channel}:${c.colorName}`), ['DAPI:blue', 'Tubulin:green', 'Actin:red']);
  assert.deepEqual(defaultComposite(['Actin', 'ER', 'Hoechst', 'Mito']).map((c) => `${c.channel}:${c.colorName}`), ['Actin:red', 'ER:green', 'Hoechst:blue']);
});

test('each treatment\'s picture is its most typical field: composite thumbnail and full-resolution crop of the right pixels', async () => {
  const run = await pictureRun();
  const result = (await cellPictures(runJson(run.dir).settings, path.join(run.dir, 'features'))) as CellPictures;
  assert.ok(!('reason' in result), JSON.stringify(result));
  assert.equal(result.pictures.length, run.treatments, 'one picture per treatment, the control included');
  assert.deepEqual(result.missing, []);
  for (const p of result.pictures) {
    assert.equal(fieldKey(p), run.typical.get(p.key), `${p.key}: the field closest to the treatment's mean`);
    assert.ok(Math.abs(p.similarity - 1) < 1e-6);
  }
  assert.deepEqual(result.composite.map((c) => `${c.channel}:${c.colorName}`), ['DAPI:blue', 'Tubulin:green', 'Actin:red']);

  // The crop is the field's own pixels at full resolution: its blue channel follows the DNA image.
  const p = result.pictures[3]!;
  const field = run.fields.find((f) => fieldKey(f) === fieldKey(p))!;
  const dna = await readImage(field.images.DAPI!);
  const crop = await sharp(p.crop).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([crop.info.width, crop.info.height, p.cropSize], [144, 144, 144]);
  const blue = Float32Array.from({ length: 144 * 144 }, (_, i) => crop.data[i * crop.info.channels + 2]!);
  const [lo, hi] = result.ranges![0]!;
  const expected = Float32Array.from({ length: 144 * 144 }, (_, i) => {
    const v = dna.data[(p.cropAt[1] + Math.floor(i / 144)) * dna.width + p.cropAt[0] + (i % 144)]!;
    return Math.min(1, Math.max(0, (v - lo) / (hi - lo)));
  });
  assert.ok(correlation(blue, expected) > 0.95, `crop follows the DNA pixels (r = ${correlation(blue, expected).toFixed(3)})`);
  const shifted = Float32Array.from({ length: 144 * 144 }, (_, i) => expected[(i + 37 * 144 + 41) % expected.length]!);
  assert.ok(correlation(blue, shifted) < 0.5, 'and not those of another place');

  // The thumbnail is the whole field, aspect kept (320x256 -> 176x141).
  const thumb = await sharp(p.thumbnail).metadata();
  assert.deepEqual([thumb.format, thumb.width, thumb.height], ['webp', 176, 141]);
});

test('the report shows the pictures: per-MOA gallery, beside each neighbour, on the map; one store, self-contained', async () => {
  const run = await pictureRun();
  const dir = await copyRun();
  const files = await writeReport(dir);
  assert.ok(!('reason' in files.pictures) && files.pictures.placement === 'report' && files.gallery === null);
  const html = readFileSync(files.html, 'utf8');
  assert.deepEqual(externalSources(html), []);
  const { store, wanted } = pageImages(html);
  assert.equal(Object.keys(store).length, 2 * run.treatments, 'a thumbnail and a crop per treatment, stored once');
  assert.ok(wanted.every((id) => id in store), 'every <img> has its picture');
  for (const uri of Object.values(store)) assert.equal((await sharp(webpOf(uri)).metadata()).format, 'webp');
  // gallery: one figure per treatment, grouped by MOA, control first
  const cells = html.slice(html.indexOf('<section id="cells">'), html.indexOf('</section>', html.indexOf('<section id="cells">')));
  assert.equal((cells.match(/<figure class="picture"/g) ?? []).length, run.treatments);
  assert.match(cells, /<h3>DMSO \(negative control\)/);
  assert.ok(cells.indexOf('DMSO (negative control)') < cells.indexOf('<h3>Actin disruptors'));
  assert.match(cells, /Colours: DAPI blue, Tubulin green, Actin red/);
  // neighbours: the treatment's picture and its neighbour's, on every row
  const neighbors = html.slice(html.indexOf('<section id="neighbors">'));
  assert.ok(neighbors.includes('<th scope="col">Picture</th>') && neighbors.includes('<th scope="col">Its picture</th>'));
  const rows = (await readTable(path.join(dir, 'neighbors.csv'))).rows;
  const table = neighbors.slice(0, neighbors.indexOf('</table>'));
  assert.equal((table.match(/data-picture=/g) ?? []).length, 2 * rows.length);
  // map: every point carries its picture for the tooltip
  const points = specsOf(html).profile_map!.data!.values;
  assert.ok(points.every((pt) => typeof pt.picture === 'string' && (pt.picture as string) in store));
  const spec = specsOf(html).profile_map as unknown as { encoding: { tooltip: Array<{ title: string }> } };
  assert.ok(spec.encoding.tooltip.some((t) => t.title === 'Picture'));
  // the figure for papers has no picture ids
  assert.doesNotMatch(readFileSync(path.join(dir, 'figures', 'profile_map.svg'), 'utf8'), /Picture/);
});

test('over the size budget: the gallery goes to gallery.html; small thumbnails stay in the report, or none', async () => {
  const run = await pictureRun();
  const dir = await copyRun();
  const full = await writeReport(dir);
  assert.ok(!('reason' in full.pictures));
  const fullBytes = full.pictures.reportBytes;

  const small = await writeReport(dir, { pictureBudget: fullBytes / 2 });
  assert.ok(!('reason' in small.pictures) && small.pictures.placement === 'gallery-with-small');
  assert.equal(small.gallery, path.join(dir, 'gallery.html'));
  assert.ok(small.pictures.reportBytes < fullBytes / 2 && small.pictures.galleryBytes === fullBytes);
  const report = readFileSync(small.html, 'utf8');
  assert.match(report, /over this page&#39;s budget of [\d.]+ MB, so it is in gallery\.html/);
  assert.match(report, /<a href="gallery.html">/);
  assert.equal((report.match(/<figure class="picture"/g) ?? []).length, 0, 'no gallery in the report');
  const { store } = pageImages(report);
  assert.equal(Object.keys(store).length, run.treatments, 'one small thumbnail per treatment');
  const meta = await sharp(webpOf(Object.values(store)[0]!)).metadata();
  assert.ok(Math.max(meta.width!, meta.height!) <= 96);
  const gallery = readFileSync(small.gallery!, 'utf8');
  assert.deepEqual(externalSources(gallery), []);
  assert.equal((gallery.match(/<figure class="picture"/g) ?? []).length, run.treatments);
  assert.equal(Object.keys(pageImages(gallery).store).length, 2 * run.treatments);
  assert.ok(gallery.length < small.pictures.galleryBytes + 50_000, 'the gallery page is its pictures, without the chart libraries');

  const none = await writeReport(dir, { pictureBudget: 1000 });
  assert.ok(!('reason' in none.pictures) && none.pictures.placement === 'gallery' && none.pictures.reportBytes === 0);
  const bare = readFileSync(none.html, 'utf8');
  assert.match(bare, /this page has no pictures/);
  assert.deepEqual(pageImages(bare).store, {});
  // within the budget again: the old gallery.html goes
  assert.equal((await writeReport(dir)).gallery, null);
  assert.ok(!existsSync(path.join(dir, 'gallery.html')));
});

test('without images the report still renders, with a line saying why there are no pictures', async () => {
  const run = await pictureRun();
  const cases: Array<[string, (dir: string) => void, RegExp]> = [
    ['profiles from elsewhere (run.json names no screen)', (dir) => writeRunJson(dir, { settings: { model: 'cellprofiler' }, counts: {}, timings: {} }), /does not name its screen&#39;s image table/],
    ['images moved', (dir) => writeRunJson(dir, { ...runJson(dir), settings: { ...runJson(dir).settings, images: path.join(tempDir(), 'moved') } }), /no image of any treatment&#39;s typical field could be read[^<]*not found[^<]*were the images moved/],
    ['image table gone', (dir) => writeRunJson(dir, { ...runJson(dir), settings: { ...runJson(dir).settings, metadata: path.join(tempDir(), 'gone.csv') } }), /gone\.csv is not there any more/],
    ['a stain the screen does not have', () => {}, /names the stain GFP, which the screen does not have \(its stains: DAPI, Tubulin, Actin\)/],
  ];
  for (const [what, change, reason] of cases) {
    const dir = await copyRun();
    change(dir);
    const files = await writeReport(dir, what.startsWith('a stain') ? { composite: 'GFP:green' } : {});
    const html = readFileSync(files.html, 'utf8');
    assert.match(html, /<p class="no-pictures">No pictures of cells: /, what);
    assert.match(html, reason, what);
    assert.ok('reason' in files.pictures, what);
    assert.deepEqual(pageImages(html).wanted, [], `${what}: no <img> waits for a picture`);
    assert.equal(specsOf(html).profile_map!.data!.values.length, run.treatments, `${what}: the rest of the report is there`);
  }
});

test('an unreadable typical field: the next most typical field of the treatment is shown', async () => {
  const run = await pictureRun();
  const screen = path.join(tempDir(), 'screen');
  cpSync(run.screenDir, screen, { recursive: true });
  const dir = await copyRun();
  writeRunJson(dir, { ...runJson(dir), settings: { ...runJson(dir).settings, metadata: path.join(screen, path.basename(run.metadata)), images: path.join(screen, 'images') } });
  const key = [...run.typical.keys()].find((k) => k.startsWith('AZK-101'))!;
  const typical = run.fields.find((f) => fieldKey(f) === run.typical.get(key))!;
  writeFileSync(path.join(screen, 'images', path.relative(run.images, typical.images.Tubulin!)), 'not a TIFF');
  const result = (await cellPictures(runJson(dir).settings, path.join(dir, 'features'))) as CellPictures;
  const picture = result.pictures.find((p) => p.key === key)!;
  assert.ok(picture, 'the treatment keeps a picture');
  assert.notEqual(fieldKey(picture), fieldKey(typical));
  assert.ok(picture.similarity < 1);
  assert.equal(result.pictures.length, run.treatments);
});

test('composite and scaling are configurable: one stain in green has no red or blue; per-field scaling has no shared ranges', async () => {
  const run = await pictureRun();
  const result = (await cellPictures(runJson(run.dir).settings, path.join(run.dir, 'features'), { composite: 'tubulin:green', scale: 'field' })) as CellPictures;
  assert.equal(result.ranges, null);
  assert.deepEqual(result.composite.map((c) => c.channel), ['Tubulin'], 'stain names match regardless of case');
  const stats = await sharp(result.pictures[0]!.thumbnail).stats();
  const [red, green, blue] = stats.channels.map((c) => c.mean) as [number, number, number];
  assert.ok(stats.channels[1]!.max > 200, 'green is used');
  // (WebP's chroma subsampling bleeds a little colour around edges, hence means, not maxima)
  assert.ok(red < 0.1 * green && blue < 0.1 * green, `no red or blue (means ${red.toFixed(1)}, ${green.toFixed(1)}, ${blue.toFixed(1)})`);
  assert.equal(pictureKey('taxol', 0.3), pictureKey('taxol', '0.30'));
});

test('CLI: report --composite ... prints where the pictures went; a bad --composite stops before any work', async () => {
  const dir = await copyRun();
  const lines: string[] = [];
  const program = new Command().exitOverride();
  register(program);
  const log = console.log;
  console.log = (line: string) => lines.push(line);
  try {
    await program.parseAsync(['node', 'morphoprof', 'report', dir, '--composite', 'DAPI:blue,Actin:red']);
  } finally {
    console.log = log;
  }
  assert.match(lines[1]!, /^pictures: \d+ treatments, [\d.]+ MB in the report$/);
  assert.match(readFileSync(path.join(dir, 'report.html'), 'utf8'), /Colours: DAPI blue, Actin red;/);
  const bad = new Command().exitOverride();
  register(bad);
  bad.configureOutput({ writeErr: () => {} });
  await assert.rejects(bad.parseAsync(['node', 'morphoprof', 'report', dir, '--composite', 'DAPI:ultraviolet']), /colour of DAPI/);
  assert.ok(existsSync(path.join(dir, 'report.html')));
  // run takes the same option, checked before any work
  const run = new Command().exitOverride();
  registerRun(run);
  run.configureOutput({ writeErr: () => {} });
  const out = path.join(tempDir(), 'never');
  await assert.rejects(run.parseAsync(['node', 'morphoprof', 'run', '--metadata', 'x.csv', '--images', '.', '--out', out, '--composite', 'DAPI']), /DAPI:blue,Tubulin:green,Actin:red/);
  assert.ok(!existsSync(out));
});
