export type { MetadataValue, ProfileTable, RecordTable } from './types.js';
export { readProfiles, readTable, withProfileSource, queryProfiles, type ProfileSource } from './read.js';
export { aggregateTable } from './aggregate.js';
export { writeProfiles, parquetBytes } from './write.js';
export { SUPPORTED_EXTENSIONS } from './duckdb.js';
