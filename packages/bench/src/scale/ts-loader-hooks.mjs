/**
 * Hooks of `ts-loader.mjs`: `.js` specifiers that name a `.ts` file resolve to it (the
 * NodeNext convention the sources use), and `.ts` files load through esbuild's transform.
 */
import { readFile } from 'node:fs/promises';
import { transform } from 'esbuild';

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && /^\.{1,2}\//.test(specifier) && specifier.endsWith('.js')) {
      return next(`${specifier.slice(0, -3)}.ts`, context);
    }
    throw error;
  }
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const source = await readFile(new URL(url), 'utf8');
  const out = await transform(source, { loader: 'ts', format: 'esm', target: 'node20', sourcefile: url, sourcemap: 'inline', keepNames: false });
  return { format: 'module', source: out.code, shortCircuit: true };
}
