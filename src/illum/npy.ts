/**
 * NumPy .npy (format version 1.0) for 2-D float32 arrays, the format CellProfiler and DeepProfiler
 * save illumination functions in (`np.load` reads ours). Written by hand: the header is one
 * Python-literal line, and the npm readers (npyjs) do not write.
 * Layout: magic `\x93NUMPY`, version 1 0, uint16 LE header length, header padded with spaces to
 * a multiple of 64 bytes ending in `\n`, then the data, C order, little-endian.
 */
import { readFileSync } from 'node:fs';
import { MorphoprofError } from '../errors.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

export function encodeNpy(data: Float32Array, width: number, height: number): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${height}, ${width}), }`;
  header += ' '.repeat(63 - ((MAGIC.length + 4 + header.length) % 64)) + '\n';
  const prefix = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(prefix);
  prefix.writeUInt8(1, 6);
  prefix.writeUInt8(0, 7);
  prefix.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength); // x86 and ARM are little-endian
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), body]);
}

function badNpy(file: string, why: string): MorphoprofError {
  return new MorphoprofError('BAD_IMAGE', `${file} is not a 2-D float32 .npy file: ${why}`, 'Recompute it with `morphoprof illum` (delete the file first)');
}

/** Read a 2-D little-endian float32 .npy file (format 1.0 or 2.0). */
export function readNpy(file: string): { data: Float32Array; width: number; height: number } {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new MorphoprofError('FILE_NOT_FOUND', `Cannot read illumination function ${file}: ${(err as Error).message}`, 'Recompute it with `morphoprof illum`', { cause: err });
  }
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw badNpy(file, 'no NumPy magic');
  const major = buf[6];
  const headerLength = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLength).toString('latin1');
  if (!/'descr':\s*'<f4'/.test(header)) throw badNpy(file, `dtype is not <f4 (${header.trim()})`);
  if (/'fortran_order':\s*True/.test(header)) throw badNpy(file, 'Fortran order');
  const shape = /'shape':\s*\((\d+),\s*(\d+)\)/.exec(header);
  if (!shape) throw badNpy(file, `shape is not 2-D (${header.trim()})`);
  const height = Number(shape[1]);
  const width = Number(shape[2]);
  const offset = start + headerLength;
  if (buf.length - offset !== 4 * width * height) throw badNpy(file, `${buf.length - offset} data bytes for shape (${height}, ${width})`);
  // copy into an aligned buffer of its own
  const data = new Float32Array(width * height);
  Buffer.from(data.buffer).set(buf.subarray(offset));
  return { data, width, height };
}
