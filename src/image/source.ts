/**
 * Where a stain's image of a field comes from, as one string (`Field.images[stain]`): a whole file
 * (the path alone, as BBBC021 lists them), a page of a multi-page TIFF, a named channel of an
 * OME-TIFF, or a channel of an OME-Zarr field. Kept a string so every stage that reads a field
 * (embedding, illumination, cells) passes it to `withImagePixels`/`readImage`/`readImageResized`
 * unchanged, and tables and messages show it as it is.
 *
 *   /data/p1/A01_s1_w1.tif             whole file (its first page)
 *   /data/p1/A01_s1.tif#page=2         page 2 (0-based) of a multi-page TIFF
 *   /data/p1/A01_s1.ome.tif#channel=DNA the OME-TIFF page of the channel named DNA (OME-XML)
 *   /data/p1.zarr/A/1/0#zarr=DNA       channel DNA (omero label) of field 0 of well A1, full resolution
 *
 * The selector is recognised only in these exact forms at the end of the string, so a file name
 * holding a `#` is still read as a file.
 */
export type ImageSelector =
  | { kind: 'file' }
  | { kind: 'page'; page: number }
  | { kind: 'ome-channel'; channel: string }
  | { kind: 'zarr'; channel: string };

export interface ImageRef {
  /** The file (or, for Zarr, the field's group folder) that holds the image. */
  file: string;
  select: ImageSelector;
}

const SELECTOR = /#(page|channel|zarr)=([^#/\\]+)$/;

export function parseImageRef(ref: string): ImageRef {
  const m = SELECTOR.exec(ref);
  if (!m) return { file: ref, select: { kind: 'file' } };
  const file = ref.slice(0, m.index);
  const value = decodeURIComponent(m[2]!);
  if (m[1] === 'page') {
    if (!/^\d+$/.test(value)) return { file: ref, select: { kind: 'file' } };
    return { file, select: { kind: 'page', page: Number(value) } };
  }
  return { file, select: m[1] === 'channel' ? { kind: 'ome-channel', channel: value } : { kind: 'zarr', channel: value } };
}

export function formatImageRef(ref: ImageRef): string {
  const s = ref.select;
  switch (s.kind) {
    case 'file':
      return ref.file;
    case 'page':
      return `${ref.file}#page=${s.page}`;
    case 'ome-channel':
      return `${ref.file}#channel=${encodeURIComponent(s.channel)}`;
    case 'zarr':
      return `${ref.file}#zarr=${encodeURIComponent(s.channel)}`;
  }
}

/** The file (or Zarr folder) behind an image reference: what must exist for it to be read. */
export function imageRefFile(ref: string): string {
  return parseImageRef(ref).file;
}
