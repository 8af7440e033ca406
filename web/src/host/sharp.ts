/**
 * Browser stand-in for `sharp`, for what src/image/read.ts asks of it: decoding the TIFFs that are
 * not plain uncompressed strips (those never reach here: tiff.ts takes them straight from their
 * bytes, in both hosts). utif2 decodes LZW, Deflate and PackBits TIFFs, 8- or 16-bit greyscale, as
 * libvips does for the CLI; anything else (PNG, JPEG, colour, float) is refused with the reason.
 */
import UTIF from 'utif2';

interface Decoded {
  width: number;
  height: number;
  depth: 'uchar' | 'ushort';
  channels: number;
  pages: number;
  pixels: () => Uint8Array;
}

function decode(input: Uint8Array | string, page: number): Decoded {
  if (typeof input === 'string') throw new Error('Input file is missing');
  const bytes = input;
  const tiff = bytes.length >= 4 && ((bytes[0] === 0x49 && bytes[1] === 0x49) || (bytes[0] === 0x4d && bytes[1] === 0x4d));
  if (!tiff) {
    const png = bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50;
    throw new Error(png ? 'PNG images are read by the command line only; in the browser, save the images as TIFF' : 'unsupported image format: not a TIFF');
  }
  const ifds = UTIF.decode(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer).filter((ifd) => ifd['t256'] !== undefined);
  if (ifds.length === 0) throw new Error('TIFF has no image');
  const ifd = ifds[Math.min(page, ifds.length - 1)]!;
  const tag = (t: string, dflt: number): number => {
    const v = ifd[t] as number[] | number | undefined;
    return Array.isArray(v) ? Number(v[0]) : typeof v === 'number' ? v : dflt;
  };
  const bits = tag('t258', 1);
  const format = tag('t339', 1);
  const depth = bits === 8 && format === 1 ? 'uchar' : bits === 16 && format === 1 ? 'ushort' : null;
  if (depth === null) throw new Error(`unsupported pixel format: ${bits}-bit${format === 3 ? ' float' : ''}`);
  return {
    width: tag('t256', 0),
    height: tag('t257', 0),
    depth,
    channels: tag('t277', 1),
    pages: ifds.length,
    pixels: () => {
      UTIF.decodeImage(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer, ifd);
      // utif2 leaves 16-bit samples little-endian (swapping big-endian files), as sharp's raw output
      return new Uint8Array((ifd as unknown as { data: Uint8Array }).data);
    },
  };
}

/** `sharp(input, { page })` with the calls read.ts makes: metadata(), and toColourspace().raw().toBuffer(). */
export default function sharp(input: Uint8Array | string, options: { page?: number } = {}) {
  const page = options.page ?? 0;
  const pipeline = {
    metadata: async () => {
      const d = decode(input, page);
      return { width: d.width, height: d.height, depth: d.depth, channels: d.channels, pages: d.pages, format: 'tiff' };
    },
    toColourspace: () => pipeline,
    raw: () => pipeline,
    toBuffer: async () => decode(input, page).pixels(),
  };
  return pipeline;
}
export type Metadata = Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
