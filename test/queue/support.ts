/** Helpers of the queue tests: a real redis-server on a free loopback port, CLI processes, a tiny ONNX model. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { OnnxGraphBuilder } from '../../src/models/onnx-builder.js';
import { randomArray } from '../models/support.js';
import { cliPath } from '../helpers.js';

/** The CLI, as a user runs it. */
export const queueCli = cliPath;

export function haveRedis(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port }, () => sock.write('PING\r\n'));
    sock.once('data', (d) => {
      sock.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    sock.once('error', () => resolve(false));
  });
}

export interface RedisServer {
  port: number;
  url: string;
  /** SHUTDOWN SAVE (the data is written to `dir` when one was given) and wait for the process to end. */
  stop(): Promise<void>;
}

/** A redis-server of our own on loopback; with `dir`, it loads and saves `dir/dump.rdb` (a Redis restart that keeps the queue). */
export async function startRedis(port: number, dir?: string): Promise<RedisServer> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (dir) args.push('--dir', dir, '--dbfilename', 'dump.rdb');
  const proc = spawn('redis-server', args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  for (let i = 0; !(await ping(port)); i++) {
    if (i > 100 || proc.exitCode !== null) throw new Error(`redis-server did not start on port ${port}`);
    await sleep(50);
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await new Promise<void>((resolve) => {
        const sock = createConnection({ host: '127.0.0.1', port }, () => sock.end(dir ? 'SHUTDOWN SAVE\r\n' : 'SHUTDOWN NOSAVE\r\n'));
        sock.on('error', () => resolve());
        sock.on('close', () => resolve());
      });
      await Promise.race([exited, sleep(5000).then(() => proc.kill('SIGKILL'))]);
    },
  };
}

export function runQueueCli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [queueCli, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true', ...env } });
}

/** A CLI process whose stderr lines are collected; `waitFor` resolves on the first line matching. */
export class CliProcess {
  private static all: CliProcess[] = [];
  /** SIGKILL every process still running (after a failed test). */
  static killAll(): void {
    for (const p of CliProcess.all) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  }
  readonly proc: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private listeners: Array<() => void> = [];
  constructor(args: string[], env: Record<string, string> = {}) {
    this.proc = spawn(process.execPath, [queueCli, ...args], { env: { ...process.env, CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    this.proc.stderr!.on('data', (d: Buffer) => {
      const parts = (rest + d.toString()).split('\n');
      rest = parts.pop()!;
      this.lines.push(...parts);
      for (const l of this.listeners) l();
    });
    this.proc.stdout!.resume();
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
    CliProcess.all.push(this);
  }

  waitFor(pattern: RegExp, ms: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (const l of this.lines) {
          const m = l.match(pattern);
          if (m) {
            clearTimeout(timer);
            this.listeners = this.listeners.filter((x) => x !== check);
            resolve(m);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} within ${ms} ms; stderr:\n${this.lines.join('\n')}`)), ms);
      if (!check()) this.listeners.push(check);
    });
  }

  async exit(ms: number): Promise<number | null> {
    const timeout = sleep(ms).then(() => 'timeout' as const);
    const r = await Promise.race([this.exited, timeout]);
    if (r === 'timeout') {
      this.proc.kill('SIGKILL');
      throw new Error(`process did not exit within ${ms} ms; stderr:\n${this.lines.join('\n')}`);
    }
    return r;
  }
}

/** image [N, 3, 32, 32] -> Conv 3x3 (8 filters) -> Relu -> GAP -> features [N, 8]: embeds in microseconds. */
export function tinyModel(file: string): string {
  const g = new OnnxGraphBuilder();
  const w = g.float('w', [8, 3, 3, 3], randomArray(8 * 27, -0.5, 0.5, 3));
  const b = g.float('b', [8], randomArray(8, -0.1, 0.1, 4));
  g.node('Conv', ['image', w, b], 'conv', { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  g.node('Relu', ['conv'], 'map');
  g.node('GlobalAveragePool', ['map'], 'pooled');
  g.node('Flatten', ['pooled'], 'features', { axis: 1 });
  writeFileSync(file, g.toBytes({ name: 'tiny', inputs: [{ name: 'image', dims: [null, 3, 32, 32] }], outputs: [{ name: 'features', dims: [null, 8] }] }));
  return file;
}
