/** Helpers of the queue tests: a real redis-server on a free loopback port, CLI processes, a tiny ONNX model. */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { OnnxGraphBuilder } from '../../src/models/onnx-builder.js';
import type { ScreenStatus } from '../../src/queue/status.js';
import { readProfiles, type ProfileTable } from '../../src/table/index.js';
import { randomArray } from '../models/support.js';
import { cliPath } from '../helpers.js';

/** The CLI, as a user runs it. */
export const queueCli = cliPath;

export function haveRedis(): boolean {
  return spawnSync('redis-server', ['--version']).status === 0;
}

export function haveOpenssl(): boolean {
  return spawnSync('openssl', ['version']).status === 0;
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

export interface RedisSecurity {
  /** an ACL user (the default user is switched off) */
  user?: { name: string; password: string };
  /** serve TLS only, with this server certificate (see makeCertificates) */
  tls?: Certificates;
}

/** Send `commands` (after AUTH when there is a user) and resolve with the first reply, or '' on error. */
function talk(port: number, sec: RedisSecurity, commands: string): Promise<string> {
  return new Promise((resolve) => {
    const payload = (sec.user ? `AUTH ${sec.user.name} ${sec.user.password}\r\n` : '') + commands;
    const onConnect = () => sock.write(payload);
    const sock = sec.tls
      ? tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(sec.tls.ca) }, onConnect)
      : createConnection({ host: '127.0.0.1', port }, onConnect);
    let got = '';
    sock.on('data', (d) => {
      got += d.toString();
      if (!sec.user || got.split('\r\n').length > 2) {
        sock.destroy();
        resolve(got);
      }
    });
    sock.once('error', () => resolve(''));
    sock.once('close', () => resolve(got));
  });
}

export interface RedisServer {
  port: number;
  url: string;
  /** SHUTDOWN SAVE (the data is written to `dir` when one was given) and wait for the process to end. */
  stop(): Promise<void>;
  /** SIGKILL: no chance to save anything */
  kill(): Promise<void>;
}

/**
 * A redis-server of our own on loopback; with `dir`, it loads and saves `dir/dump.rdb` (a Redis
 * restart that keeps the queue), and with `appendonly` it also logs every write to an AOF there.
 */
export async function startRedis(port: number, dir?: string, opts: RedisSecurity & { appendonly?: boolean } = {}): Promise<RedisServer> {
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', opts.appendonly ? 'yes' : 'no'];
  if (opts.appendonly) args.push('--appendfsync', 'always');
  args.push(...(opts.tls ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', opts.tls.cert, '--tls-key-file', opts.tls.key, '--tls-ca-cert-file', opts.tls.ca, '--tls-auth-clients', 'no'] : ['--port', String(port)]));
  if (opts.user) args.push('--user', 'default', 'off', '--user', opts.user.name, 'on', `>${opts.user.password}`, '~*', '&*', '+@all');
  if (dir) args.push('--dir', dir, '--dbfilename', 'dump.rdb');
  const proc = spawn('redis-server', args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  for (let i = 0; !(await talk(port, opts, 'PING\r\n')).includes('+PONG'); i++) {
    if (i > 100 || proc.exitCode !== null) throw new Error(`redis-server did not start on port ${port}`);
    await sleep(50);
  }
  const cred = opts.user ? `${opts.user.name}:${opts.user.password}@` : '';
  return {
    port,
    url: `${opts.tls ? 'rediss' : 'redis'}://${cred}127.0.0.1:${port}`,
    async stop() {
      await talk(port, opts, dir ? 'SHUTDOWN SAVE\r\n' : 'SHUTDOWN NOSAVE\r\n');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

export interface Certificates {
  ca: string;
  cert: string;
  key: string;
}

/** A CA and a server certificate for 127.0.0.1 signed by it, made with openssl in `dir`. */
export function makeCertificates(dir: string, name = 'ca'): Certificates {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`), '-days', '2', '-subj', `/CN=morphoprof test ${name}`);
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f(`${name}.crt`), '-CAkey', f(`${name}.key`), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('ext.cnf'));
  return { ca: f(`${name}.crt`), cert: f('server.crt'), key: f('server.key') };
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
  /** when each line arrived (ms since the epoch) */
  readonly times: number[] = [];
  readonly exited: Promise<number | null>;
  private listeners: Array<() => void> = [];
  constructor(args: string[], env: Record<string, string> = {}) {
    this.proc = spawn(process.execPath, [queueCli, ...args], { env: { ...process.env, CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    this.proc.stderr!.on('data', (d: Buffer) => {
      const parts = (rest + d.toString()).split('\n');
      rest = parts.pop()!;
      this.lines.push(...parts);
      const now = Date.now();
      for (const _ of parts) this.times.push(now);
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
      // a wait nobody awaits any more (the losers of a Promise.any) must not hold the test process open
      timer.unref();
      if (!check()) this.listeners.push(check);
    });
  }

  async exit(ms: number): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
    const r = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (r === 'timeout') {
      this.proc.kill('SIGKILL');
      throw new Error(`process did not exit within ${ms} ms; stderr:\n${this.lines.join('\n')}`);
    }
    return r;
  }
}

/**
 * image [N, 3, S, S] -> (Conv 3x3 -> Relu) x layers -> GAP -> features [N, width]. The default
 * (S = 32, one layer of 8 filters) embeds in microseconds; wider and deeper ones cost real CPU.
 */
export function tinyModel(file: string, opts: { size?: number; width?: number; layers?: number } = {}): string {
  const { size = 32, width = 8, layers = 1 } = opts;
  const g = new OnnxGraphBuilder();
  let x = 'image';
  for (let l = 0, inCh = 3; l < layers; l++, inCh = width) {
    const w = g.float(`w${l}`, [width, inCh, 3, 3], randomArray(width * inCh * 9, -0.5, 0.5, 3 + l));
    const b = g.float(`b${l}`, [width], randomArray(width, -0.1, 0.1, 4 + l));
    g.node('Conv', [x, w, b], `conv${l}`, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    g.node('Relu', [`conv${l}`], `map${l}`);
    x = `map${l}`;
  }
  g.node('GlobalAveragePool', [x], 'pooled');
  g.node('Flatten', ['pooled'], 'features', { axis: 1 });
  writeFileSync(file, g.toBytes({ name: 'tiny', inputs: [{ name: 'image', dims: [null, 3, size, size] }], outputs: [{ name: 'features', dims: [null, width] }] }));
  return file;
}

export function readCsv(file: string): Array<Record<string, string>> {
  return parse(readFileSync(file), { columns: true }) as Array<Record<string, string>>;
}

/** Features by field (`plate/well/site`), asserting that no field has features twice. */
export function byField(t: ProfileTable): Map<string, Float32Array> {
  const m = new Map<string, Float32Array>();
  t.metadata.forEach((r, i) => {
    const k = `${r.Metadata_Plate}/${r.Metadata_Well}/${r.Metadata_Site}`;
    assert.ok(!m.has(k), `field ${k} has features twice`);
    m.set(k, t.features[i]!);
  });
  return m;
}

/** Every field of `reference` once in `out`'s feature store, bitwise equal, and no other field. */
export async function assertSameFeatures(out: string, reference: string): Promise<void> {
  const got = byField(await readProfiles(path.join(out, 'features')));
  const want = byField(await readProfiles(path.join(reference, 'features')));
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [k, v] of want) assert.ok(Buffer.from(got.get(k)!.buffer).equals(Buffer.from(v.buffer)), `features of ${k} differ from the single-machine run`);
}

/** `queue status --json` of one screen; `redis` null: the URL comes from MORPHOPROF_REDIS in `env`. */
export function status(redis: string | null, out: string, env: Record<string, string> = {}, extra: string[] = []): ScreenStatus {
  const r = runQueueCli(['queue', 'status', ...(redis ? ['--redis', redis] : []), '--out', out, '--json', ...extra], env);
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as ScreenStatus[])[0]!;
}
