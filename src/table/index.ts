export type { MetadataValue, ProfileTable, RecordTable } from './types.js';
export { readProfiles, readTable } from './read.js';
export { writeProfiles } from './write.js';
export { SUPPORTED_EXTENSIONS } from './duckdb.js';
