/** Browser stand-in for `@zarrita/storage/fs`: OME-Zarr plates are read by the CLI. */
import { unavailableClass } from './unavailable.js';

export default unavailableClass('Reading OME-Zarr plates');
