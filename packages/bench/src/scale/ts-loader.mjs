/**
 * A minimal TypeScript loader for the benchmarked server processes (`node --import
 * ./ts-loader.mjs`): esbuild strips types module by module, as a production build would,
 * without tsx's `keepNames`, whose `__name()` gives every function a property of its
 * own, and so an out-of-object property store (~256 bytes per closure, measured in a
 * heap snapshot): Vigil's per-peer closures would be charged for the dev loader.
 */
import { register } from 'node:module';

register('./ts-loader-hooks.mjs', import.meta.url);
