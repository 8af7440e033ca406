/** The data model of a screen, shared by every stage. */

/** One field of view (site) of one well: one image file per stain (channel). */
export interface Field {
  plate: string;
  /** Well as `A01` (row letters, zero-padded column), or a name that is no plate position, kept as given. */
  well: string;
  site: number;
  compound: string;
  /** Concentration as in the metadata table (micromolar in BBBC021). */
  concentration: number;
  /** Mechanism of action, or null where the MOA table has none for this treatment. */
  moa: string | null;
  /** Batch (BBBC021: the week, e.g. `Week1`), or null when unknown. */
  batch: string | null;
  /**
   * Each channel's image, keyed by channel name: the absolute path of its file, or an image
   * reference to a page or channel of a multi-channel file or OME-Zarr field (src/image/source.ts).
   * Read it with withImagePixels / readImage / readImageResized (src/image), which take both.
   */
  images: Record<string, string>;
  /** 1-based data row of the metadata table this field came from (for error messages). */
  row: number;
}

export interface Screen {
  /** The metadata table this screen was read from. */
  metadataPath: string;
  /** Root folder the image paths were resolved against. */
  imagesRoot: string;
  /** Channel (stain) names in their table order, e.g. `['DAPI', 'Tubulin', 'Actin']`. */
  channels: string[];
  /** Compound name of the negative control (default `DMSO`). */
  controlCompound: string;
  fields: Field[];
}

/** Stable identity of a field, used as a key in feature stores and error tables. */
export function fieldKey(f: Pick<Field, 'plate' | 'well' | 'site'>): string {
  return `${f.plate}/${f.well}/s${f.site}`;
}

/** A treatment is a compound at a concentration. */
export function treatmentKey(compound: string, concentration: number): string {
  return `${compound}@${concentration}`;
}
