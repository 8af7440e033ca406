/**
 * Where the pictures of the cells go in the report, and their HTML. Every picture is stored once in
 * the page (a JSON map of ids to WebP data URIs, ./html.ts) and shown by `<img data-picture=id>`
 * wherever it is used: the per-MOA gallery, the neighbour table, the map's tooltip.
 *
 * The page has a size budget for pictures (DEFAULT_PICTURE_BUDGET). Within it, everything is in
 * report.html. Over it, the gallery (thumbnails and crops) goes to gallery.html beside the report,
 * and report.html keeps only small thumbnails for the neighbour table and the map when those fit,
 * or none.
 */
import { escapeHtml } from './html.js';
import { NO_MOA } from './map.js';
import { pictureKey, shrinkPicture, type CellPictures, type NoPictures, type TreatmentPicture } from './pictures.js';

/** Bytes of pictures (as base64 data URIs) that report.html may embed. */
export const DEFAULT_PICTURE_BUDGET = 8_000_000;
/** Longer side of the small thumbnails of the neighbour table and the map when the gallery is apart. */
export const SMALL_PICTURE = 96;
export const GALLERY_FILE = 'gallery.html';

const dataUri = (webp: Buffer): string => `data:image/webp;base64,${webp.toString('base64')}`;

export type PicturePlacement = 'report' | 'gallery-with-small' | 'gallery';

export interface PicturePlan {
  placement: PicturePlacement;
  /** id -> data URI of the pictures report.html embeds. */
  report: Record<string, string>;
  /** id -> data URI of gallery.html, when the gallery is apart. */
  gallery: Record<string, string> | null;
  /** Picture id (in `report`) of each treatment key, for the neighbour table and the map. */
  thumbnailOf: Map<string, string>;
  /** Bytes of the pictures in report.html and in gallery.html. */
  reportBytes: number;
  galleryBytes: number;
  budget: number;
}

const size = (store: Record<string, string>): number => Object.values(store).reduce((n, uri) => n + uri.length, 0);

/** Decides where the pictures go (see the module comment). */
export async function planPictures(result: CellPictures, budget = DEFAULT_PICTURE_BUDGET): Promise<PicturePlan> {
  const full: Record<string, string> = {};
  const thumbnailOf = new Map<string, string>();
  result.pictures.forEach((p, i) => {
    full[`p${i}`] = dataUri(p.thumbnail);
    full[`p${i}c`] = dataUri(p.crop);
    thumbnailOf.set(p.key, `p${i}`);
  });
  const fullBytes = size(full);
  if (fullBytes <= budget) return { placement: 'report', report: full, gallery: null, thumbnailOf, reportBytes: fullBytes, galleryBytes: 0, budget };
  const small: Record<string, string> = {};
  for (const [i, p] of result.pictures.entries()) small[`p${i}`] = dataUri(await shrinkPicture(p.thumbnail, SMALL_PICTURE));
  const smallBytes = size(small);
  if (smallBytes <= budget) return { placement: 'gallery-with-small', report: small, gallery: full, thumbnailOf, reportBytes: smallBytes, galleryBytes: fullBytes, budget };
  return { placement: 'gallery', report: {}, gallery: full, thumbnailOf: new Map(), reportBytes: 0, galleryBytes: fullBytes, budget };
}

const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** 1 -> 1st, 99.8 -> 99.8th */
function ordinal(n: number): string {
  const last = Number.isInteger(n) ? n % 100 : -1;
  const suffix = last >= 11 && last <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[last % 10] ?? 'th';
  return `${n}${suffix}`;
}

/** `<img>` of a picture id, filled in by the page's script. */
export function pictureImg(id: string, alt: string, width: number, height: number, className = 'pic'): string {
  return `<img class="${className}" data-picture="${escapeHtml(id)}" width="${width}" height="${height}" alt="${escapeHtml(alt)}">`;
}

function describe(p: TreatmentPicture): string {
  return `${p.compound} at ${p.concentration}`;
}

/** What the colours and the scaling are, in one sentence. */
export function pictureLegend(result: CellPictures): string {
  const stains = result.composite.map((c) => `${c.channel} ${c.colorName}`).join(', ');
  const [lo, hi] = result.percentiles;
  const scale =
    result.scale === 'screen'
      ? `each stain scaled linearly from its ${ordinal(lo)} to its ${ordinal(hi)} percentile over all the fields shown (${result.composite.map((c, s) => `${c.channel} ${result.ranges![s]![0].toFixed(0)}-${result.ranges![s]![1].toFixed(0)}`).join(', ')}), so brightness compares between treatments`
      : `each stain scaled from its ${ordinal(lo)} to its ${ordinal(hi)} percentile in each field`;
  return `Colours: ${stains}; ${scale}. Raw images, no illumination correction.`;
}

/** Groups of pictures for the gallery: the control first, then MOAs alphabetically, no MOA last. */
function groups(pictures: readonly TreatmentPicture[], controlCompound: string): Array<[string, TreatmentPicture[]]> {
  const byGroup = new Map<string, TreatmentPicture[]>();
  for (const p of pictures) {
    const group = p.compound === controlCompound ? `${controlCompound} (negative control)` : (p.moa ?? NO_MOA);
    byGroup.set(group, [...(byGroup.get(group) ?? []), p]);
  }
  const rank = (g: string): number => (g.endsWith('(negative control)') ? 0 : g === NO_MOA ? 2 : 1);
  return [...byGroup]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([g, ps]) => [g, ps.sort((a, b) => a.compound.localeCompare(b.compound) || Number(a.concentration) - Number(b.concentration))]);
}

/** The per-MOA gallery: each treatment's whole field and its crop at full resolution. */
export function galleryHtml(result: CellPictures, controlCompound: string): string {
  const index = new Map(result.pictures.map((p, i) => [p, i]));
  return groups(result.pictures, controlCompound)
    .map(([group, pictures]) => {
      const figures = pictures.map((p) => {
        const i = index.get(p)!;
        const [w, h] = p.thumbnailSize;
        const caption = `${p.plate} ${p.well} site ${p.site}; cosine ${p.similarity.toFixed(3)} to the mean of its ${p.fields} field(s)`;
        return `<figure class="picture" data-key="${escapeHtml(p.key)}"><div class="pair">${pictureImg(`p${i}`, `${describe(p)}: whole field`, w, h)}${pictureImg(`p${i}c`, `${describe(p)}: ${p.cropSize} x ${p.cropSize} pixels at full resolution from (${p.cropAt[0]}, ${p.cropAt[1]})`, p.cropSize, p.cropSize)}</div>
<figcaption><b>${escapeHtml(p.compound)}</b> ${escapeHtml(p.concentration)}<br><span class="muted">${escapeHtml(caption)}</span></figcaption></figure>`;
      });
      return `<h3>${escapeHtml(group)} <span class="muted">(${pictures.length})</span></h3>\n<div class="gallery">${figures.join('\n')}</div>`;
    })
    .join('\n');
}

const INTRO =
  'For each treatment, its most typical field: the one whose features are closest (cosine) to the mean of the treatment\'s fields. Left, the whole field; right, a square of it at full resolution (one image pixel per screen pixel), where the cells are densest.';

/** The report's section on the pictures (or the line saying why there are none). */
export function cellsSection(result: CellPictures | NoPictures, plan: PicturePlan | null, controlCompound: string): string {
  const head = '<section id="cells"><h2>Pictures of the cells</h2>';
  if ('reason' in result || !plan) return `${head}<p class="no-pictures">${escapeHtml(`No pictures of cells: ${'reason' in result ? result.reason : 'none could be made'}.`)}</p></section>`;
  const missing = result.missing.length
    ? `<p class="muted">${escapeHtml(`${result.missing.length} treatment(s) have no picture (no readable field): ${result.missing.slice(0, 5).map((m) => `${m.key}: ${m.reason}`).join('; ')}${result.missing.length > 5 ? '; ...' : ''}`)}</p>`
    : '';
  const legend = `<p class="muted">${escapeHtml(pictureLegend(result))}</p>`;
  if (plan.placement === 'report') return `${head}<p>${escapeHtml(INTRO)}</p>${legend}${missing}\n${galleryHtml(result, controlCompound)}</section>`;
  const where =
    `The gallery of ${result.pictures.length} treatments (${megabytes(plan.galleryBytes)} of pictures) is over this page's budget of ${megabytes(plan.budget)}, so it is in ${GALLERY_FILE} beside this report` +
    (plan.placement === 'gallery-with-small' ? '; small thumbnails are in the neighbour table and on the map.' : '; this page has no pictures.');
  return `${head}<p>${escapeHtml(INTRO)}</p><p class="notes">${escapeHtml(where)} <a href="${GALLERY_FILE}">Open ${GALLERY_FILE}</a>.</p>${legend}${missing}</section>`;
}

/** The picture id of a treatment in report.html, if it has one. */
export function thumbnailId(plan: PicturePlan | null, compound: unknown, concentration: unknown): string | undefined {
  return plan?.thumbnailOf.get(pictureKey(compound as string, concentration as string));
}
