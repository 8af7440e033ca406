import { Option } from 'commander';
import { invalidParameter } from '../errors.js';

/** Options shared by the commands that read a screen. */
export const screenOptions = [
  () => new Option('--metadata <csv>', 'image table: BBBC021_v1_image.csv or a CellProfiler LoadData CSV').makeOptionMandatory(),
  () => new Option('--images <root>', 'folder the table\'s PathName columns are relative to').makeOptionMandatory(),
  () => new Option('--moa <csv>', 'MOA table (compound,concentration,moa), e.g. BBBC021_v1_moa.csv'),
  () => new Option('--controls <compound>', 'negative-control compound').default('DMSO'),
];

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw invalidParameter(name, 'a positive integer', value);
    return n;
  };
}

/** Print one line for humans on stderr, keeping stdout for results. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}
