/**
 * One progress reporter for all long work. On a TTY it redraws one stderr line with count,
 * rate and ETA; elsewhere it is quiet, so logs and pipes stay machine-readable.
 */
export interface ProgressEvent {
  status: 'initiate' | 'progress' | 'done';
  task: string;
  done: number;
  total: number;
  /** items per second since start */
  rate: number;
  /** seconds left, NaN when unknown */
  eta: number;
}

export type ProgressCallback = (event: ProgressEvent) => void;

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export class Progress {
  private readonly start = performance.now();
  private lastDraw = 0;
  private doneCount = 0;
  constructor(
    readonly task: string,
    readonly total: number,
    private readonly onEvent?: ProgressCallback,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly unit = 'items',
  ) {
    this.emit('initiate');
  }

  get done(): number {
    return this.doneCount;
  }

  tick(n = 1): void {
    this.doneCount += n;
    this.emit('progress');
  }

  finish(): void {
    this.emit('done');
  }

  private emit(status: ProgressEvent['status']): void {
    const elapsed = (performance.now() - this.start) / 1000;
    const rate = elapsed > 0 ? this.doneCount / elapsed : 0;
    const eta = rate > 0 ? (this.total - this.doneCount) / rate : Number.NaN;
    const event: ProgressEvent = { status, task: this.task, done: this.doneCount, total: this.total, rate, eta };
    this.onEvent?.(event);
    if (!this.stream.isTTY) return;
    const now = performance.now();
    if (status === 'progress' && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const pct = this.total > 0 ? Math.floor((100 * this.doneCount) / this.total) : 100;
    const line = `${this.task}: ${this.doneCount}/${this.total} ${this.unit} (${pct}%) ${rate.toFixed(1)}/s ETA ${formatDuration(eta)}`;
    this.stream.write(`\r\x1b[K${line}`);
    if (status === 'done') this.stream.write(`\r\x1b[K${this.task}: ${this.doneCount} ${this.unit} in ${formatDuration(elapsed)}\n`);
  }
}
