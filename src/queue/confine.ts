/**
 * Where a worker may read and write: the directories its operator allowed (`worker --root`). Every
 * path a job leads to (its queue file, the tables, images, output, illumination folder and model
 * that queue file names) is checked after symbolic links are followed, so neither `..` nor a link
 * inside an allowed directory leads out of it.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { MorphoprofError } from '../errors.js';

/** The real path of `p`: links followed as far as the path exists, the rest appended as written. */
function realPath(p: string): string {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let head = abs;
  for (;;) {
    try {
      return path.join(realpathSync(head), ...rest);
    } catch {
      const parent = path.dirname(head);
      if (parent === head) return abs;
      rest.unshift(path.basename(head));
      head = parent;
    }
  }
}

export class Roots {
  readonly dirs: readonly string[];
  constructor(dirs: readonly string[]) {
    if (dirs.length === 0) throw new MorphoprofError('BAD_ARGUMENT', 'a worker needs at least one --root directory', 'Give --root <dir> for each directory holding images, tables and run directories');
    this.dirs = [...new Set(dirs.map(realPath))];
  }

  /** Is `p` (after links) one of the roots or under one? */
  allows(p: string): boolean {
    const real = realPath(p);
    return this.dirs.some((d) => real === d || real.startsWith(d.endsWith(path.sep) ? d : d + path.sep));
  }

  /** Throw an error naming `what` and `p` unless `p` lies under a root. */
  check(what: string, p: string): void {
    if (!this.allows(p))
      throw new MorphoprofError(
        'BAD_ARGUMENT',
        `${what} ${p} lies outside the directories this worker may use (${this.dirs.join(', ')})`,
        'Start the worker with --root <dir> for that directory if the screen is trusted',
      );
  }

  /** `[what, path]` pairs checked in order; the first outside a root throws. */
  checkAll(paths: ReadonlyArray<readonly [string, string | null | undefined]>): void {
    for (const [what, p] of paths) if (p) this.check(what, p);
  }
}
