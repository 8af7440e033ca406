/** Browser stand-in for `@resvg/resvg-js`: the page draws its charts live; PNG figures are the CLI's. */
import { unavailableClass } from './unavailable.js';

export const Resvg = unavailableClass('Rendering PNG figures');
