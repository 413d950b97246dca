/**
 * Builds the browser client: `src/browser.ts` and everything it imports (core, protocol,
 * msgpackr, rxjs, pino's browser build), bundled by esbuild into one ESM file,
 * `dist/vigil-client.browser.js`, with a source map. The bundle must not reach Node
 * built-ins: esbuild fails the build if anything imports `net` or the like (`ws` would
 * slip through as its browser stub, which throws only when used).
 *
 * `pnpm --filter @vigil/client build` builds it; `ensureBrowserBuild()` rebuilds only when
 * an input is newer than the bundle (the game example and the browser tests call it).
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

function thisFile(): string {
  // Jest runs this module as CommonJS (`import.meta` is never evaluated there); tsx runs it as ESM.
  return typeof __filename === 'string' ? __filename : fileURLToPath(import.meta.url);
}

/** The client package's folder. */
export const CLIENT_DIR = resolve(dirname(thisFile()), '..');
/** The bundle: one ESM file exporting the browser entry's API. */
export const BROWSER_BUNDLE = join(CLIENT_DIR, 'dist/vigil-client.browser.js');
/** Inputs of the last build (esbuild's metafile), for the staleness check. */
const META_FILE = join(CLIENT_DIR, 'dist/vigil-client.browser.meta.json');

export interface BrowserBuild {
  readonly path: string;
  readonly bytes: number;
  /** Files bundled, relative to the client package. */
  readonly inputs: number;
  readonly ms: number;
}

/** Bundles now; writes each output to a temporary file first so a concurrent reader never sees half of one. */
export async function buildBrowser(options: { readonly minify?: boolean } = {}): Promise<BrowserBuild> {
  const started = performance.now();
  const result = await build({
    absWorkingDir: CLIENT_DIR,
    entryPoints: ['src/browser.ts'],
    outfile: BROWSER_BUNDLE,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'linked',
    minify: options.minify ?? false,
    metafile: true,
    write: false,
    logLevel: 'silent',
    legalComments: 'eof',
  });
  mkdirSync(dirname(BROWSER_BUNDLE), { recursive: true });
  let bytes = 0;
  for (const file of result.outputFiles) {
    if (file.path === BROWSER_BUNDLE) bytes = file.contents.length;
    atomicWrite(file.path, file.contents);
  }
  const inputs = Object.keys(result.metafile.inputs);
  atomicWrite(META_FILE, JSON.stringify({ inputs }));
  return { path: BROWSER_BUNDLE, bytes, inputs: inputs.length, ms: Math.round(performance.now() - started) };
}

/** Builds unless the bundle exists and is newer than every input of its last build (and this script). Returns its path. */
export async function ensureBrowserBuild(): Promise<string> {
  if (!isFresh()) await buildBrowser();
  return BROWSER_BUNDLE;
}

function isFresh(): boolean {
  try {
    const built = statSync(BROWSER_BUNDLE).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(META_FILE, 'utf8')) as { inputs: string[] };
    for (const input of [...inputs.map((i) => join(CLIENT_DIR, i)), thisFile()]) if (statSync(input).mtimeMs > built) return false;
    return true;
  } catch {
    // Missing bundle, metadata or input: build.
    return false;
  }
}

function atomicWrite(path: string, contents: Uint8Array | string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, contents);
  renameSync(temp, path);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === thisFile()) {
  buildBrowser({ minify: process.argv.includes('--minify') }).then(
    (b) => console.log(`built ${b.path}: ${(b.bytes / 1024).toFixed(1)} KiB from ${b.inputs} files in ${b.ms} ms`),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
