/**
 * The channels of an OME-TIFF, from the OME-XML in its first page's ImageDescription: their names
 * in order and the page (IFD) each one's first plane is on. Only the first Image (series) is read;
 * with several Z-planes or time points, the first of each is taken (a field is one plane per stain).
 */
export interface OmeChannels {
  names: string[];
  /** 0-based page of channel c at z = 0, t = 0. */
  pageOf(c: number): number;
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}\\s*=\\s*"([^"]*)"`).exec(tag) ?? new RegExp(`\\s${name}\\s*=\\s*'([^']*)'`).exec(tag);
  return m ? unescapeXml(m[1]!) : undefined;
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp|#\d+|#x[0-9a-f]+);/gi, (_, e: string) => {
    const k = e.toLowerCase();
    if (k === 'lt') return '<';
    if (k === 'gt') return '>';
    if (k === 'quot') return '"';
    if (k === 'apos') return "'";
    if (k === 'amp') return '&';
    return String.fromCodePoint(k.startsWith('#x') ? parseInt(k.slice(2), 16) : Number(k.slice(1)));
  });
}

/** Tags named `name` (with any namespace prefix), as their opening text. */
function tags(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${name}\\b[^>]*>`, 'g'))].map((m) => m[0]);
}

/** The channels of an OME-XML document, or null when it is not one (no Pixels element). */
export function parseOmeXml(xml: string): OmeChannels | null {
  if (!/<(?:[\w.-]+:)?OME\b/.test(xml)) return null;
  // the first Image's Pixels element and what it holds
  const start = xml.search(/<(?:[\w.-]+:)?Pixels\b/);
  if (start < 0) return null;
  const endMatch = /<\/(?:[\w.-]+:)?Pixels\s*>/.exec(xml.slice(start));
  const body = endMatch ? xml.slice(start, start + endMatch.index) : xml.slice(start);
  const pixels = tags(body, 'Pixels')[0]!;
  const sizeC = Number(attr(pixels, 'SizeC') ?? 1);
  const sizeZ = Number(attr(pixels, 'SizeZ') ?? 1);
  const sizeT = Number(attr(pixels, 'SizeT') ?? 1);
  const order = (attr(pixels, 'DimensionOrder') ?? 'XYCZT').toUpperCase();
  const channelTags = tags(body, 'Channel');
  // a Channel with SamplesPerPixel > 1 (RGB) is not a greyscale stain; names still listed
  const names = channelTags.map((t, i) => attr(t, 'Name') ?? `C${i}`);
  while (names.length < sizeC) names.push(`C${names.length}`);
  const size: Record<string, number> = { C: sizeC, Z: sizeZ, T: sizeT };
  // planes are stored in DimensionOrder after X and Y: the stride of C is the product of the sizes before it
  let strideC = 1;
  for (const d of order.slice(2)) {
    if (d === 'C') break;
    strideC *= size[d] ?? 1;
  }
  // explicit TiffData (FirstC -> IFD) wins over the dimension order
  const explicit = new Map<number, number>();
  for (const t of tags(body, 'TiffData')) {
    const ifd = attr(t, 'IFD');
    const firstC = Number(attr(t, 'FirstC') ?? 0);
    const firstZ = Number(attr(t, 'FirstZ') ?? 0);
    const firstT = Number(attr(t, 'FirstT') ?? 0);
    const count = Number(attr(t, 'PlaneCount') ?? 1);
    if (ifd !== undefined && firstZ === 0 && firstT === 0 && count === 1 && !explicit.has(firstC)) explicit.set(firstC, Number(ifd));
  }
  return { names, pageOf: (c) => explicit.get(c) ?? c * strideC };
}
