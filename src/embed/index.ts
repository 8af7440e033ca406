export { embedScreen, checkFieldFiles, featureColumnNames, METADATA_COLUMNS, type EmbedOptions, type EmbedResult } from './embed.js';
export { writeErrorTable, ERROR_COLUMNS, type FieldError } from './field-errors.js';
export { DEFAULT_SCALING, percentileRange, scaleTo255, type ScalingSpec } from './scale.js';
