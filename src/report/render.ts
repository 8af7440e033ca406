/** Server-side rendering of the report's Vega-Lite specs: SVG with Vega, PNG with resvg. */
import { Resvg } from '@resvg/resvg-js';
import { Error as ErrorLevel, logger, parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** The SVG Vega draws for a Vega-Lite spec (no browser, no canvas). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const log = logger(ErrorLevel);
  const view = new View(parse(compile(spec, { logger: log }).spec), { renderer: 'none', logLevel: ErrorLevel });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * A PNG of an SVG at `scale` times its size (2 = ~200 dpi at the usual print size), on white,
 * with the system fonts (the SVG names DejaVu Sans first, present on Debian).
 */
export function svgToPng(svg: string, scale = 2): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}
