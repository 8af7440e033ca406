/**
 * `morphoprof serve`: the browser page (web/dist, built by `npm run build:web`) on a local web
 * server that sends the two headers making it cross-origin isolated (WebAssembly threads need
 * them): Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp.
 * Static files only; it binds to 127.0.0.1 unless told otherwise.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { invalidParameter, MorphoprofError } from '../errors.js';

/** web/dist of this package (dist/src/cli/serve.js -> <package>/web/dist). */
export const DEFAULT_WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web', 'dist');

/** Headers every response carries: cross-origin isolation, and no caching of a page that is rebuilt. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-cache',
  'X-Content-Type-Options': 'nosniff',
});

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.css': 'text/css; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
};

export interface StaticServer {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serve `dir` at http://host:port/ (port 0: a free one) with ISOLATION_HEADERS (`isolate: false`
 * leaves the two cross-origin headers out, as a plain static host would: for the tests of the
 * page's single-threaded fallback).
 */
export async function serveStatic(dir: string, opts: { port?: number; host?: string; isolate?: boolean } = {}): Promise<StaticServer> {
  const headers = Object.entries(ISOLATION_HEADERS).filter(([k]) => opts.isolate !== false || !k.startsWith('Cross-Origin-'));
  const root = path.resolve(dir);
  if (!existsSync(path.join(root, 'index.html'))) {
    throw new MorphoprofError('FILE_NOT_FOUND', `No page to serve: ${path.join(root, 'index.html')} does not exist`, 'Build the page first: npm run build:web (or give the folder with --dir)');
  }
  const port = opts.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidParameter('--port', 'an integer port 0-65535', port);
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    for (const [k, v] of headers) res.setHeader(k, v);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      res.writeHead(400).end('bad request');
      return;
    }
    const file = path.join(root, path.normalize(pathname.endsWith('/') ? `${pathname}index.html` : pathname));
    const inside = file === root || file.startsWith(root + path.sep);
    const stat = inside && existsSync(file) ? statSync(file) : null;
    if (!stat?.isFile()) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`not found: ${pathname}`);
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream', 'Content-Length': stat.size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new MorphoprofError('BAD_ARGUMENT', `Port ${port} on ${host} is in use`, 'Choose another with --port (0 picks a free one)') : err),
    );
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return { server, url: `http://${shown}:${bound}/`, port: bound, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve the browser page (npm run build:web) on this computer, cross-origin isolated so the network runs on all cores; the images stay in the browser')
    .option('--port <n>', 'port (0: a free one)', (v: string) => Number(v), 8080)
    .option('--host <address>', 'address to listen on (127.0.0.1: this computer only)', '127.0.0.1')
    .option('--dir <folder>', 'folder of the built page', DEFAULT_WEB_DIR)
    .action(async (o: { port: number; host: string; dir: string }) => {
      const s = await serveStatic(o.dir, { port: o.port, host: o.host });
      console.log(`morphoprof: the page is at ${s.url} (serving ${path.resolve(o.dir)}; Ctrl-C stops)`);
    });
}
