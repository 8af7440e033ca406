/**
 * The report's charts as Vega-Lite specs with their data inline. The same spec is drawn in the
 * page (vega-embed) and rendered to SVG/PNG for papers (./render.ts).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Confusion, PerMoa } from './inputs.js';
import type { ProfileMap } from './map.js';

/** Fonts present on Debian (fonts-dejavu, fonts-liberation) first, so the PNGs have text. */
export const FONT = 'DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif';

const config = {
  font: FONT,
  background: 'white',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  title: { fontSize: 14, anchor: 'start' as const },
};

export function confusionSpec(confusion: Confusion): TopLevelSpec {
  const { labels, counts } = confusion;
  const cells = labels.flatMap((trueMoa, i) => {
    const rowTotal = counts[i]!.reduce((a, b) => a + b, 0);
    return labels.map((predicted, j) => ({
      true_moa: trueMoa,
      predicted_moa: predicted,
      count: counts[i]![j]!,
      share: rowTotal ? counts[i]![j]! / rowTotal : 0,
    }));
  });
  const step = labels.length > 20 ? 18 : 28;
  return {
    title: 'Confusion matrix: true MOA vs MOA of the nearest neighbour',
    data: { values: cells },
    width: { step },
    height: { step },
    encoding: {
      x: { field: 'predicted_moa', type: 'nominal', sort: labels, title: 'Predicted MOA (nearest treatment of another compound)', axis: { labelAngle: -40, orient: 'bottom' } },
      y: { field: 'true_moa', type: 'nominal', sort: labels, title: 'True MOA' },
    },
    layer: [
      {
        mark: { type: 'rect', stroke: '#ffffff', strokeWidth: 1 },
        encoding: {
          color: { field: 'share', type: 'quantitative', scale: { scheme: 'blues', domain: [0, 1] }, title: 'Share of true MOA', legend: { format: '.0%' } },
          tooltip: [
            { field: 'true_moa', type: 'nominal', title: 'True MOA' },
            { field: 'predicted_moa', type: 'nominal', title: 'Predicted MOA' },
            { field: 'count', type: 'quantitative', title: 'Treatments' },
            { field: 'share', type: 'quantitative', title: 'Share of true MOA', format: '.0%' },
          ],
        },
      },
      {
        transform: [{ filter: 'datum.count > 0' }],
        mark: { type: 'text', fontSize: 11 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: 'black' },
        },
      },
    ],
    config,
  };
}

export function perMoaSpec(perMoa: readonly PerMoa[], overall: number | null): TopLevelSpec {
  const rows = [...perMoa].sort((a, b) => b.accuracy - a.accuracy || a.moa.localeCompare(b.moa));
  const order = rows.map((r) => r.moa);
  const values = rows.map((r) => ({ ...r, label: `${r.correct}/${r.total}` }));
  const y = { field: 'moa', type: 'nominal' as const, sort: order, title: null };
  const x = { field: 'accuracy', type: 'quantitative' as const, scale: { domain: [0, 1] }, axis: { format: '.0%' }, title: 'NSC accuracy (share of the MOA\'s treatments)' };
  return {
    title: 'Accuracy per MOA',
    width: 360,
    height: { step: 22 },
    layer: [
      {
        data: { values },
        mark: { type: 'bar', color: '#4c78a8' },
        encoding: {
          y,
          x,
          tooltip: [
            { field: 'moa', type: 'nominal', title: 'MOA' },
            { field: 'label', type: 'nominal', title: 'Correct / treatments' },
            { field: 'accuracy', type: 'quantitative', title: 'Accuracy', format: '.1%' },
          ],
        },
      },
      {
        data: { values },
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 11 },
        encoding: { y, x, text: { field: 'label', type: 'nominal' } },
      },
      ...(overall === null
        ? []
        : [
            {
              data: { values: [{ overall }] },
              mark: { type: 'rule' as const, color: '#e45756', strokeDash: [4, 3], strokeWidth: 1.5 },
              encoding: { x: { field: 'overall', type: 'quantitative' as const }, tooltip: { field: 'overall', type: 'quantitative' as const, title: 'Overall NSC accuracy', format: '.1%' } },
            },
          ]),
    ],
    config,
  };
}

export function mapSpec(map: ProfileMap): TopLevelSpec {
  const method = map.method === 'pca' ? 'PCA' : 'UMAP';
  // Ten well-separated colours while they suffice; the 20-colour scheme pairs light and dark hues.
  const scheme = new Set(map.points.map((p) => p.moa)).size <= 10 ? 'tableau10' : 'tableau20';
  return {
    title: { text: `Treatment profiles (${method})`, subtitle: 'one point per compound and concentration, coloured by MOA' },
    data: { values: map.points },
    width: 440,
    height: 380,
    mark: { type: 'point', filled: true, size: 80, opacity: 0.85, strokeWidth: 2 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: map.xTitle, scale: { zero: false, nice: true }, axis: { grid: false } },
      y: { field: 'y', type: 'quantitative', title: map.yTitle, scale: { zero: false, nice: true }, axis: { grid: false } },
      color: { field: 'moa', type: 'nominal', title: 'MOA', scale: { scheme } },
      shape: { field: 'role', type: 'nominal', title: null, scale: { domain: ['treatment', 'control'], range: ['circle', 'cross'] } },
      tooltip: [
        { field: 'compound', type: 'nominal', title: 'Compound' },
        { field: 'concentration', type: 'nominal', title: 'Concentration' },
        { field: 'moa', type: 'nominal', title: 'MOA' },
        ...(map.points.some((p) => p.profiles !== null) ? [{ field: 'profiles', type: 'quantitative' as const, title: 'Profiles averaged' }] : []),
        // shown as the picture itself by the page's tooltip formatter (./html.ts)
        ...(map.points.some((p) => p.picture) ? [{ field: 'picture', type: 'nominal' as const, title: 'Picture' }] : []),
      ],
    },
    config,
  };
}
