/**
 * The page's static files (`packages/dashboard/public`): plain ESM JavaScript, CSS
 * and HTML served as they are, so there is no build step. Files are listed once at
 * start-up and only those names are ever served.
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function thisFile(): string {
  // Jest runs this module as CommonJS (`import.meta` is never evaluated there); tsx and Node run it as ESM.
  return typeof __filename === 'string' ? __filename : fileURLToPath(import.meta.url);
}

/** Absolute path of the `public` folder. */
export const PUBLIC_DIR = resolve(dirname(thisFile()), '../../public');

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

export class Assets {
  private readonly names: ReadonlyMap<string, string>;

  constructor(readonly dir: string = PUBLIC_DIR) {
    const names = new Map<string, string>();
    for (const name of readdirSync(dir)) {
      const type = TYPES[extname(name)];
      if (type !== undefined) names.set(name, type);
    }
    this.names = names;
  }

  has(name: string): boolean {
    return this.names.has(name);
  }

  /** The file's bytes (read each time, so an edited asset shows on reload), or null for an unknown name. */
  async get(name: string): Promise<Asset | null> {
    const type = this.names.get(name);
    if (type === undefined) return null;
    return { body: await readFile(join(this.dir, name)), type };
  }
}
