/**
 * Helpers of the browser tests: the page built into a temporary folder (web/build.mjs), served by
 * `morphoprof serve`'s server, opened in Debian's Chromium (playwright-core) with every request
 * that leaves the server refused and recorded, and every console error recorded.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { serveStatic, type StaticServer } from '../../src/cli/serve.js';
import { repoRoot, tempDir } from '../helpers.js';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', '--disable-quic', '--disable-component-update', '--disable-sync'];

/** A table row's field (Metadata_Plate/Metadata_Well/Metadata_Site), to match the page's rows with the CLI's. */
export { rowKey } from '../helpers.js';

export function haveChromium(): boolean {
  return existsSync(CHROMIUM);
}

/** `npm run build:web` into `out` (without the ResNet-50 file unless `model`). */
export async function buildPage(out: string, model = false): Promise<string> {
  const build = (await import(pathToFileURL(path.join(repoRoot, 'web', 'build.mjs')).href)) as { buildWeb(o: { out: string; model: boolean; quiet: boolean }): Promise<string> };
  return build.buildWeb({ out, model, quiet: true });
}

export interface PageSession {
  server: StaticServer;
  context: BrowserContext;
  page: Page;
  /** Requests to anywhere but the local server (refused). */
  outside: string[];
  /** Console errors and uncaught page errors. */
  problems: string[];
  close(): Promise<void>;
}

/** The page at `dir` served with the isolation headers (unless `isolate: false`), open in headless Chromium. */
export async function openPage(dir: string, opts: { webgpu?: boolean; isolate?: boolean } = {}): Promise<PageSession> {
  const server = await serveStatic(dir, { port: 0, isolate: opts.isolate });
  // WebGPU: Chromium's own adapter (SwiftShader, on the CPU, where there is no graphics card)
  const args = opts.webgpu ? [...ARGS.filter((a) => a !== '--disable-gpu'), '--enable-unsafe-webgpu'] : ARGS;
  const context = await chromium.launchPersistentContext(path.join(tempDir('morphoprof-chromium-'), 'profile'), {
    executablePath: CHROMIUM,
    args,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  const outside: string[] = [];
  const problems: string[] = [];
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (url.startsWith(server.url) || url.startsWith('data:') || url.startsWith('blob:') || url === 'about:srcdoc') return route.continue();
    outside.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  const watch = (p: Page) => {
    p.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  };
  watch(page);
  context.on('page', watch);
  page.on('worker', (w) => w.on('console', (m) => m.type() === 'error' && problems.push(`worker console: ${m.text()}`)));
  await page.goto(server.url);
  return {
    server,
    context,
    page,
    outside,
    problems,
    close: async () => {
      await context.close();
      await server.close();
    },
  };
}

/** Picks `folder` in the page, waits for the inspection, sets the run's options (precision fp32 unless given), runs it; the final state. */
export async function runScreen(
  page: Page,
  folder: string,
  opts: { model?: string; batch?: number; provider?: 'wasm' | 'webgpu'; precision?: 'auto' | 'fp32' | 'int8'; preprocess?: string; normalize?: string; timeout?: number } = {},
): Promise<'done' | 'failed'> {
  await page.locator('#folder').setInputFiles(folder);
  await page.locator('#inspect').waitFor({ state: 'visible', timeout: 60_000 });
  if (opts.model) await page.locator('#model').setInputFiles(opts.model);
  if (opts.preprocess) await page.locator('#preprocess').selectOption(opts.preprocess);
  if (opts.provider) await page.locator('#provider').selectOption(opts.provider);
  // fp32 unless asked: the page's own default (auto) may pick int8
  await page.locator('#precision').selectOption(opts.precision ?? 'fp32');
  if (opts.normalize) await page.locator('#normalize').selectOption(opts.normalize);
  if (opts.batch) await page.locator('#batch').fill(String(opts.batch));
  await page.locator('#run').click();
  await page.waitForFunction("['done', 'failed'].includes(document.getElementById('status').dataset.state)", undefined, { timeout: opts.timeout ?? 120_000 });
  return (await page.locator('#status').getAttribute('data-state')) as 'done' | 'failed';
}

/** Clicks a download button of the page; the downloaded file's path. */
export async function download(page: Page, id: string): Promise<string> {
  const [d] = await Promise.all([page.waitForEvent('download'), page.locator(`#${id}`).click()]);
  return (await d.path())!;
}
