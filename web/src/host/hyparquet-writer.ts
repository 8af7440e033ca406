/** Browser stand-in for `hyparquet-writer`: its browser build, without the file writer (the page offers downloads). */
import { notInBrowser } from './unavailable.js';

export * from 'hyparquet-writer';

export function fileWriter(): never {
  throw notInBrowser('Writing Parquet files to disk');
}
