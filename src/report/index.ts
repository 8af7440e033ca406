export { writeReport, reportPage, type ReportFiles, type ReportOptions, type ReportPageContext } from './report.js';
export { readRunInputs, RUN_FILES, type ReportInputs, type ReportMetrics, type PerMoa, type Confusion } from './inputs.js';
export { pca2, type Pca, type PcaOptions } from './pca.js';
export { pcaMap, umapMap, type ProfileMap, type MapPoint } from './map.js';
export { confusionSpec, perMoaSpec, mapSpec } from './specs.js';
export { renderSvg, svgToPng } from './render.js';
export { escapeHtml } from './html.js';
export { parseComposite, defaultComposite, cellPictures, typicalFields, pictureKey, COLORS, type CompositeChannel, type PictureOptions, type CellPictures, type TreatmentPicture } from './pictures.js';
export { planPictures, DEFAULT_PICTURE_BUDGET, GALLERY_FILE, type PicturePlan, type PicturePlacement } from './gallery.js';
