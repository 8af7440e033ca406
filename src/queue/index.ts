export { submitScreen, jobCounts, type SubmitOptions, type SubmitResult } from './submit.js';
export { runWorker, type WorkerOptions, type WorkerResult } from './worker.js';
export { queueStatus, formatStatus, retryFailed, type ScreenStatus } from './status.js';
export { collectRun, type CollectResult } from './collect.js';
export { readQueueConfig, queueFileOf, queueNames, connectRedis, type QueueConfig, type JobData } from './config.js';
