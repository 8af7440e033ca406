/**
 * Wells as instruments name them. A plate position has one canonical name, row letters and a
 * two-digit column (`B05`, 1536-well `AF48`); any other name is an identifier, kept as given.
 */

/** Row letters of a 1-based row number: 1 -> A, 26 -> Z, 27 -> AA, 32 -> AF (1536-well plates). */
export function rowLetters(n: number): string {
  let s = '';
  for (let k = n; k > 0; k = Math.floor((k - 1) / 26)) s = String.fromCharCode(65 + ((k - 1) % 26)) + s;
  return s;
}

/**
 * A plate position's canonical name, or null when `raw` names none: `A1`, `a01`, `A001` -> `A01`;
 * 1536-well `AF48` -> `AF48`; Harmony/Opera Phenix `r02c05` -> `B05` (rows and columns 1-based).
 */
export function normalizeWell(raw: string): string | null {
  const t = raw.trim();
  const m = /^([A-Za-z]{1,2})0*(\d{1,3})$/.exec(t);
  if (m) return Number(m[2]) < 1 ? null : `${m[1]!.toUpperCase()}${m[2]!.padStart(2, '0')}`;
  const rc = /^r0*(\d{1,3})c0*(\d{1,3})$/i.exec(t);
  return rc ? wellFromRowColumn(rc[1]!, rc[2]!) : null;
}

/** Canonical well of a row (letter `B` or number `2`) and a column (`5`): `B05`; null when they name no position. */
export function wellFromRowColumn(row: string, column: string): string | null {
  const r = row.trim();
  const c = column.trim();
  if (!/^\d{1,3}$/.test(c) || Number(c) < 1) return null;
  if (/^[A-Za-z]{1,2}$/.test(r)) return `${r.toUpperCase()}${c.replace(/^0+/, '').padStart(2, '0')}`;
  if (/^\d{1,3}$/.test(r) && Number(r) >= 1) return `${rowLetters(Number(r))}${c.replace(/^0+/, '').padStart(2, '0')}`;
  return null;
}

/**
 * The well of a table row: from its well name, or else from its row and column. `well` is the
 * canonical name, or null when the row names no plate position (then `raw` is the key to keep).
 */
export function readWell(given: string, row: string, column: string): { raw: string; well: string | null } {
  if (given !== '') return { raw: given, well: normalizeWell(given) };
  if (row !== '' && column !== '') return { raw: `${row}_${column}`, well: wellFromRowColumn(row, column) };
  return { raw: '', well: null };
}
