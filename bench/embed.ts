/**
 * End-to-end embedding rate vs raw inference rate, fp32 and int8, each measured side by side on a
 * benchmark screen of real-size fields (1280x1024, 16-bit, 3 stains, made by synth); where the CPU
 * goes (per stage and per thread); and peak memory of `embed` runs of different sizes (it must not
 * grow with the screen).
 *
 *   node dist/bench/embed.js [--precision fp32,int8] [--fields 102] [--batch 8] [--rss-fields 1000]
 *                            [--breakdown] [--layouts] [--no-rss]
 *
 * --rss-fields N: the long run, N fields (3N images) embedded by the CLI, per precision: the figure
 *   to judge (the final measurement: --rss-fields 700, 2,100 images per precision).
 * --breakdown: CPU per image of each stage beside the network, measured alone, and per thread in
 *   the pipeline (main = reading, mp-infer + mp-ort = onnxruntime, writer = Parquet shards).
 * --layouts: the short run again with every inference layout, interleaved (A/B on CPU per image).
 * --screen DIR: make the bench screen there once and reuse it in later runs (synth takes ~30 s).
 * --long-layouts default,1x2: the int8 long runs, by layout (MORPHOPROF_LAYOUT, e.g. 2x1, 1x2nospin);
 *   --fp32-layouts default: the same for fp32 (e.g. default,2x1).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { embedScreen } from '../src/embed/embed.js';
import { defaultLayout, emptyStageTimes, parseLayout, type InferenceLayout, type Precision, type StageTimes } from '../src/embed/embedder.js';
import { percentileRange, scaleTo255 } from '../src/embed/scale.js';
import { withImagePixels } from '../src/image/read.js';
import { areaResize } from '../src/image/resample.js';
import { preprocessInto } from '../src/models/preprocess.js';
import { ensureOnnx } from '../src/models/registry.js';
import { openModel, type ModelSession } from '../src/models/session.js';
import { openModelInThread } from '../src/models/thread-session.js';
import type { Screen } from '../src/screen/types.js';
import { loadScreen } from '../src/screen/index.js';
import { synthesizeScreen } from '../src/synth/index.js';
import { tempDir } from '../test/helpers.js';

const { values } = parseArgs({
  options: {
    precision: { type: 'string', default: 'fp32,int8' },
    fields: { type: 'string', default: '102' },
    batch: { type: 'string', default: '8' },
    'rss-fields': { type: 'string', default: '1000' },
    breakdown: { type: 'boolean', default: false },
    layouts: { type: 'boolean', default: false },
    'no-rss': { type: 'boolean', default: false },
    'long-layouts': { type: 'string', default: 'default,1x2' },
    'fp32-layouts': { type: 'string', default: 'default' },
    screen: { type: 'string' },
  },
});
const precisions = values.precision.split(',') as Precision[];
const batch = Number(values.batch);
const root = tempDir('morphoprof-bench-');
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'morphoprof.js');
const BBBC021_IMAGES = 39_600;
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const t0 = performance.now();
// --screen <dir>: a bench screen made by an earlier run (kept there), else one made here and removed
const kept = values.screen && existsSync(path.join(values.screen, 'synth_image.csv'));
const s = kept
  ? { imageTable: path.join(values.screen!, 'synth_image.csv'), imagesRoot: path.join(values.screen!, 'images'), moaTable: path.join(values.screen!, 'synth_moa.csv') }
  : await synthesizeScreen({ out: values.screen ?? path.join(root, 'screen'), preset: 'bench', plates: 1, sites: 3 });
const synthSeconds = (performance.now() - t0) / 1000;
const { screen } = await loadScreen({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable });
screen.fields = screen.fields.slice(0, Number(values.fields));
const images = screen.fields.length * screen.channels.length;
const perBatch = batch * screen.channels.length;
console.log(`bench screen: ${screen.fields.length} fields x ${screen.channels.length} stains of 1280x1024 16-bit (${images} images); synth ${synthSeconds.toFixed(1)} s; load average ${load()}`);

// ---- CPU time per thread (Linux /proc; the inference threads name themselves, session-worker.ts)

/** On-CPU nanoseconds of every thread of this process, by thread id, with its name. */
function threadTimes(): Map<string, { comm: string; ns: number }> {
  const out = new Map<string, { comm: string; ns: number }>();
  try {
    for (const t of readdirSync('/proc/self/task')) {
      try {
        const comm = readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim();
        out.set(t, { comm, ns: Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0]) });
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // not Linux
  }
  return out;
}

/** CPU ms by role between two snapshots: main (reading), inference (mp-infer + mp-ort), writer and others (threads started meanwhile), node (V8/libuv helpers). */
function cpuByRole(before: Map<string, { comm: string; ns: number }>, after: Map<string, { comm: string; ns: number }>): Record<string, number> {
  const roles: Record<string, number> = { main: 0, 'mp-infer': 0, 'mp-ort': 0, 'new threads (writer)': 0, 'node helpers': 0 };
  for (const [tid, a] of after) {
    const b = before.get(tid);
    const ms = (a.ns - (b?.ns ?? 0)) / 1e6;
    const role = tid === String(process.pid) ? 'main' : a.comm.startsWith('mp-') ? a.comm : b ? 'node helpers' : 'new threads (writer)';
    roles[role] = (roles[role] ?? 0) + ms;
  }
  return roles;
}

const formatRoles = (roles: Record<string, number>, n = 1) =>
  Object.entries(roles)
    .map(([k, v]) => `${k} ${(v / n).toFixed(2)}`)
    .join(', ');
const totalOf = (roles: Record<string, number>) => Object.values(roles).reduce((a, b) => a + b, 0);

// ---- raw inference: onnxruntime on ready tensors

interface RawResult {
  label: string;
  rate: number;
  cpuPerImage: number;
}

const describe = (l: InferenceLayout) => `${l.sessions} session${l.sessions > 1 ? 's' : ''} x ${l.threads} thread${l.threads > 1 ? 's' : ''}${l.spinning ? '' : ', no spinning'}`;

/**
 * Raw inference of `file` with a layout as the pipeline runs it (sessions on threads of their own,
 * batches in shared memory, in turn), or in this thread (`inProcess`, onnxruntime's plain way).
 */
async function rawInference(file: string, layout: InferenceLayout, fields: number, count: number, inProcess = false): Promise<RawResult> {
  const n = fields * screen.channels.length;
  const opts = { intraOpNumThreads: layout.threads, allowSpinning: layout.spinning, preprocessing: 'caffe' as const };
  const models: ModelSession[] = inProcess ? [await openModel(file, opts)] : await Promise.all(Array.from({ length: layout.sessions }, () => openModelInThread(file, opts)));
  const size = models[0]!.inputSize;
  const inputs = models.map((_, k) => {
    const a = new Float32Array(inProcess ? new ArrayBuffer(n * 3 * size * size * 4) : new SharedArrayBuffer(n * 3 * size * size * 4));
    for (let i = 0; i < a.length; i++) a[i] = (((i + k * 7919) * 2654435761) % 255) - 120;
    return a;
  });
  await Promise.all(models.map((m, k) => m.embed(inputs[k]!, n))); // warm-up
  const rounds = Math.max(models.length, Math.ceil(count / n));
  const before = threadTimes();
  const t = performance.now();
  let next = 0;
  await Promise.all(models.map(async (m, k) => {
    while (next < rounds) {
      next++;
      await m.embed(inputs[k]!, n);
    }
  }));
  const seconds = (performance.now() - t) / 1000;
  const cpu = totalOf(cpuByRole(before, threadTimes()));
  await Promise.all(models.map((m) => m.dispose()));
  return { label: `${inProcess ? 'in this thread, ' : ''}${describe(layout)}, batches of ${fields} fields`, rate: (rounds * n) / seconds, cpuPerImage: cpu / (rounds * n) };
}

/** The layouts the best raw rate is looked for among (and --layouts compares in the pipeline). */
function candidateLayouts(): InferenceLayout[] {
  return [
    { sessions: 1, threads: 2, spinning: true },
    { sessions: 1, threads: 2, spinning: false },
    { sessions: 2, threads: 1, spinning: true },
    { sessions: 1, threads: 1, spinning: true },
  ];
}

// ---- the stages beside the network, each alone on this thread (no inference running)

async function stageBreakdown(): Promise<void> {
  const size = 224;
  const files = screen.fields.slice(0, 40).flatMap((f) => screen.channels.map((ch) => f.images[ch]!));
  const plane = new Float32Array(size * size);
  const held: Uint16Array[] = [];
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const time = (run: () => void | Promise<void>) => async () => {
    const c = cpu();
    await run();
    return (cpu() - c) / files.length;
  };
  const stages: Array<[string, () => Promise<number>]> = [
    ['read (strip TIFF, mapped or into a reused buffer)', time(async () => {
      for (const f of files) await withImagePixels(f, (img) => img.width);
    })],
    ['downsample 1280x1024 -> 224x224 (C)', time(() => {
      for (const px of held) areaResize(px, 1280, 1024, size, size, plane);
    })],
    ['percentiles 0.1/99.9', time(() => {
      for (const px of held) {
        areaResize(px, 1280, 1024, size, size, plane);
        percentileRange(plane);
      }
    })],
    ['scale to 0..255', time(() => {
      for (let k = 0; k < files.length; k++) scaleTo255(plane, 10, 4000);
    })],
    ['preprocess into the batch (3 channels)', time(() => {
      const dst = new Float32Array(new SharedArrayBuffer(3 * size * size * 4));
      for (let k = 0; k < files.length; k++) preprocessInto(dst, 0, [plane, plane, plane], 'caffe');
    })],
    ['copy of the batch by the inference thread', time(() => {
      const src = new Float32Array(new SharedArrayBuffer(3 * size * size * 4));
      const dst = new Float32Array(3 * size * size);
      for (let k = 0; k < files.length; k++) dst.set(src);
    })],
  ];
  for (const f of files) await withImagePixels(f, (img) => void held.push((img.data as Uint16Array).slice()));
  const results: Array<[string, number]> = [];
  for (const [name, run] of stages) results.push([name, await run()]);
  // percentiles were measured with a downsample each: take it off
  results[2]![1] -= results[1]![1];
  console.log(`stages beside the network, each alone on one thread, CPU ms per image (${files.length} images; load average ${load()}):`);
  for (const [name, ms] of results) console.log(`  ${name.padEnd(44)} ${ms.toFixed(3)}`);
  console.log(`  ${'sum'.padEnd(44)} ${results.reduce((a, [, ms]) => a + ms, 0).toFixed(3)}`);
}

// ---- end to end, in this process (per-thread CPU) and by the CLI (the long run)

interface EndToEnd {
  whole: number;
  steady: number;
  roles: Record<string, number>;
  stages: StageTimes;
  openSeconds: number;
  calibration: string | null;
  onnxPath: string | null;
}

async function endToEnd(precision: Precision, layout: InferenceLayout | undefined, tag: string): Promise<EndToEnd> {
  const ticks: Array<[number, number]> = [];
  const stages = emptyStageTimes();
  // threads' CPU from the first finished batch (after opening and calibrating) to the last (the
  // inference threads end with the run), plus the writer's whole work, read at the end
  let first: Map<string, { comm: string; ns: number }> | null = null;
  let last = new Map<string, { comm: string; ns: number }>();
  const t = performance.now();
  const r = await embedScreen({
    screen,
    precision,
    out: path.join(root, `run-${tag}`),
    batchSize: batch,
    progress: false,
    layout,
    timing: stages,
    onProgress: (e) => {
      ticks.push([performance.now(), e.done]);
      if (e.done === 0) return;
      last = threadTimes();
      first ??= last;
    },
  });
  const seconds = (performance.now() - t) / 1000;
  const end = threadTimes();
  for (const [tid, v] of end) if (!last.has(tid) || v.ns > last.get(tid)!.ns) last.set(tid, v);
  const moving = ticks.filter(([, done]) => done > 0);
  const [a, b] = [moving[0]!, moving.findLast(([, done]) => done < screen.fields.length) ?? moving.at(-1)!];
  const windowImages = 3 * (moving.at(-1)![1] - a[1]);
  const roles = cpuByRole(first ?? new Map(), last);
  // per image of the window; the writer wrote every image of the run
  const writer = roles['new threads (writer)']!;
  for (const k of Object.keys(roles)) roles[k] = roles[k]! / windowImages;
  roles['new threads (writer)'] = writer / (3 * r.fieldsEmbedded);
  const c = r.calibration;
  return {
    whole: (3 * r.fieldsEmbedded) / (seconds - r.openSeconds),
    steady: (3 * (b[1] - a[1])) / ((b[0] - a[0]) / 1000),
    roles,
    stages,
    openSeconds: r.openSeconds,
    calibration: c && `${c.fields} control fields (${c.images} images): read in ${c.readSeconds.toFixed(1)} s, quantized network made or found in the cache in ${c.quantizeSeconds.toFixed(1)} s${c.broken.length ? `, ${c.broken.length} broken` : ''}`,
    onnxPath: c?.onnxPath ?? null,
  };
}

/** A screen of `n` fields: the bench plate's images listed again under other plate names, 240 fields a plate as in BBBC021 (no 80 GB of TIFFs needed). */
function longTable(n: number): string {
  const [header, ...rows] = readFileSync(s.imageTable, 'utf8').trim().split('\n');
  const plateColumn = header!.split(',').indexOf('Image_Metadata_Plate_DAPI');
  const wellColumn = header!.split(',').indexOf('Image_Metadata_Well_DAPI');
  const table = path.join(root, `screen-${n}.csv`);
  const out = Array.from({ length: n }, (_, j) => {
    const cells = rows[j % rows.length]!.split(',');
    cells[1] = String(j + 1);
    // 240 fields a plate: well k = (j mod 240) / 3 as A01..G08, 3 sites each (the source row's
    // site is j mod 3, as 102 and 240 are multiples of 3), so plate/well/site keys are unique
    const k = Math.floor((j % 240) / 3);
    cells[plateColumn] = `${cells[plateColumn]}_${Math.floor(j / 240)}`;
    cells[wellColumn] = `${String.fromCharCode(65 + Math.floor(k / 12))}${String((k % 12) + 1).padStart(2, '0')}`;
    return cells.join(',');
  });
  writeFileSync(table, [header, ...out].join('\n') + '\n');
  return table;
}

function cliEmbed(table: string, out: string, precision: Precision, env: NodeJS.ProcessEnv = process.env): { res: { fieldsEmbedded: number; seconds: number; openSeconds: number; peakRssMB: number }; seconds: number } {
  const t = performance.now();
  const child = spawnSync(process.execPath, [cli, 'embed', '--metadata', table, '--images', s.imagesRoot, '--out', out, '--precision', precision, '--json'], { encoding: 'utf8', maxBuffer: 1 << 28, env });
  if (child.status !== 0) throw new Error(child.stderr);
  return { res: JSON.parse(child.stdout), seconds: (performance.now() - t) / 1000 };
}

if (values.breakdown) await stageBreakdown();

const summary: string[] = [];
for (const precision of precisions) {
  console.log(`\n-- ${precision} --`);
  const layout = defaultLayout(precision);
  // the short run first: for int8 it makes (or finds) the quantized file, calibrated on the screen's controls
  const e2e = await endToEnd(precision, undefined, precision);
  const file = e2e.onnxPath ?? (await ensureOnnx('resnet50'));
  if (e2e.calibration) console.log(`calibration: ${e2e.calibration}; network opened in ${e2e.openSeconds.toFixed(1)} s`);
  const count = Math.min(images, precision === 'int8' ? 480 : 240);
  const rawBefore = await rawInference(file, layout, Math.ceil(batch / layout.sessions), count);
  // onnxruntime's best settings for this file: the plain in-process session, and each layout
  const candidates: RawResult[] = [await rawInference(file, { sessions: 1, threads: 2, spinning: true }, batch, count, true)];
  // batches as the pipeline makes them (batch / sessions fields per session), and twice as large
  for (const l of candidateLayouts()) for (const fields of [Math.ceil(batch / l.sessions), 2 * Math.ceil(batch / l.sessions)]) candidates.push(await rawInference(file, l, fields, count));
  const rawAfter = await rawInference(file, layout, Math.ceil(batch / layout.sessions), count);
  const raw = (rawBefore.rate + rawAfter.rate) / 2;
  const best = candidates.reduce((a, b) => (b.rate > a.rate ? b : a));
  console.log(`raw inference (resnet50 ${precision}), ready tensors, load average ${load()}:`);
  console.log(`  the pipeline's layout (${describe(layout)}, batches of ${Math.ceil(batch / layout.sessions)} fields): ${raw.toFixed(1)} images/s (${rawBefore.rate.toFixed(1)} before, ${rawAfter.rate.toFixed(1)} after), ${rawBefore.cpuPerImage.toFixed(1)} CPU ms per image`);
  for (const c of candidates) console.log(`  ${c.label}: ${c.rate.toFixed(1)} images/s, ${c.cpuPerImage.toFixed(1)} CPU ms per image`);
  console.log(`  best: ${best.label}, ${best.rate.toFixed(1)} images/s`);
  const n = images;
  const st = e2e.stages;
  console.log(
    `end to end (short run, ${n} images, ${describe(layout)}): steady ${e2e.steady.toFixed(1)} images/s, whole run ${e2e.whole.toFixed(1)} images/s without opening the network ` +
      `= ${(e2e.whole / raw).toFixed(2)} of raw with the same layout, ${(e2e.whole / best.rate).toFixed(2)} of the best raw`,
  );
  console.log(`  CPU ms per image by thread: ${formatRoles(e2e.roles)} (total ${totalOf(e2e.roles).toFixed(1)}; raw inference alone ${rawBefore.cpuPerImage.toFixed(1)})`);
  // robust on a busy machine: when both keep every core busy, the wall ratio is the CPU ratio
  const bestCpu = Math.min(...candidates.map((c) => c.cpuPerImage));
  console.log(
    `  CPU ratio (raw CPU per image / the pipeline's, what the wall ratio becomes when both keep the cores busy): ${(rawBefore.cpuPerImage / totalOf(e2e.roles)).toFixed(2)} of raw with the same layout, ` +
      `${(bestCpu / totalOf(e2e.roles)).toFixed(2)} of the most CPU-frugal raw layout (${bestCpu.toFixed(1)} ms per image)`,
  );
  const timed = (st.illum + st.percentiles + st.scale + st.assemble + st.post) / n;
  console.log(
    `  main thread CPU ms per image: read+downsample+event loop ${(e2e.roles['main']! - timed).toFixed(2)}, percentiles ${(st.percentiles / n).toFixed(2)}, ` +
      `scale ${(st.scale / n).toFixed(2)}, preprocess+batch assembly ${(st.assemble / n).toFixed(2)}, posting batches+rows ${(st.post / n).toFixed(2)}`,
  );

  if (values.layouts) {
    // interleaved A/B of every layout on the same short run: CPU per image is the robust figure on a busy machine
    for (let round = 0; round < 2; round++)
      for (const l of candidateLayouts()) {
        const r = await endToEnd(precision, l, `${precision}-${round}-${l.sessions}x${l.threads}${l.spinning ? '' : 'n'}`);
        console.log(`  layout ${describe(l)}: whole ${r.whole.toFixed(1)} images/s, CPU ms per image ${totalOf(r.roles).toFixed(1)} (${formatRoles(r.roles)}); load ${load()}`);
      }
  }

  const long = Number(values['rss-fields']);
  if (long > 0) {
    // the default layout and the others asked for (MORPHOPROF_LAYOUT), each against raw
    // inference with the same layout measured just before and after it
    const wanted = (precision === 'int8' ? values['long-layouts'] : values['fp32-layouts']).split(',');
    const table = longTable(long);
    for (const name of wanted) {
      const l = name === 'default' ? layout : parseLayout(name);
      const env = name === 'default' ? process.env : { ...process.env, MORPHOPROF_LAYOUT: name };
      const before = name === 'default' ? rawBefore : await rawInference(file, l, Math.ceil(batch / l.sessions), count);
      const { res, seconds } = cliEmbed(table, path.join(root, `long-${precision}-${name}`), precision, env);
      const after = await rawInference(file, l, Math.ceil(batch / l.sessions), count);
      const rawRate = (before.rate + after.rate) / 2;
      const rate = (3 * res.fieldsEmbedded) / (res.seconds - res.openSeconds);
      const projected = BBBC021_IMAGES / rate / 60;
      console.log(
        `long run: morphoprof embed --precision ${precision} (${name === 'default' ? `default layout, ${describe(l)}` : `MORPHOPROF_LAYOUT=${name}`}) of ${res.fieldsEmbedded} fields (${3 * res.fieldsEmbedded} images): ` +
          `peak RSS ${res.peakRssMB} MB; ${(seconds / 60).toFixed(1)} min in all, ${rate.toFixed(1)} images/s over the whole embedding without opening the network (${res.openSeconds.toFixed(1)} s) ` +
          `= ${(rate / rawRate).toFixed(2)} of raw inference with the same layout (${rawRate.toFixed(1)} images/s: ${before.rate.toFixed(1)} before, ${after.rate.toFixed(1)} after; target >= 0.9), ` +
          `${(rate / best.rate).toFixed(2)} of the best raw (${best.rate.toFixed(1)}); load average ${load()}`,
      );
      summary.push(
        `${precision}${name === 'default' ? '' : ` (MORPHOPROF_LAYOUT=${name})`}: ${(rate / rawRate).toFixed(2)} of raw with its layout (${rate.toFixed(1)} / ${rawRate.toFixed(1)} images/s), ` +
          `${(rate / best.rate).toFixed(2)} of the best raw (${best.rate.toFixed(1)}, ${best.label}); all of BBBC021 (${BBBC021_IMAGES.toLocaleString('en')} images) in ${projected.toFixed(1)} min`,
      );
    }
  } else summary.push(`${precision}: short run ${(e2e.whole / raw).toFixed(2)} of raw (${e2e.whole.toFixed(1)} / ${raw.toFixed(1)} images/s); all of BBBC021 in ${(BBBC021_IMAGES / e2e.whole / 60).toFixed(1)} min at that rate`);
}

// peak memory of the embed command alone, on a third of the screen and on all of it (fp32)
if (!values['no-rss']) {
  const lines = readFileSync(s.imageTable, 'utf8').trim().split('\n');
  for (const n of [Math.ceil(screen.fields.length / 3), screen.fields.length]) {
    const table = path.join(root, `screen-rss-${n}.csv`);
    writeFileSync(table, lines.slice(0, n + 1).join('\n') + '\n');
    const { res } = cliEmbed(table, path.join(root, `rss-${n}`), 'fp32');
    console.log(`morphoprof embed of ${res.fieldsEmbedded} fields: peak RSS ${res.peakRssMB} MB`);
  }
}
console.log(`\nend to end / raw inference, each against its own raw rate measured in this run (load average ${load()}):\n  ${summary.join('\n  ')}`);
rmSync(root, { recursive: true, force: true });
