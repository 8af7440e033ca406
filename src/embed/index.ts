export { embedScreen, embedSettings, checkFieldFiles, calibrationFields, nothingValidMessage, type EmbedOptions, type EmbedResult } from './embed.js';
export { FieldEmbedder, featureColumnNames, modelTag, METADATA_COLUMNS, DEFAULT_SETTINGS, defaultLayout, parseLayout, emptyStageTimes, CALIBRATION_FIELDS, type EmbedSettings, type ChannelMode, type Precision, type InferenceLayout, type StageTimes, type CalibrationInfo } from './embedder.js';
export { FeatureStore, planShards, type Shard, type ShardReceipt, type ShardState } from './store.js';
export { writeErrorTable, errorRecords, ERROR_COLUMNS, type FieldError } from './field-errors.js';
export { DEFAULT_SCALING, percentileRange, scaleTo255, type ScalingSpec } from './scale.js';
