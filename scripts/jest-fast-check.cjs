/**
 * Property tests replay one fixed seed in CI, so a run is reproducible and a red build
 * means the code changed; elsewhere they draw a new seed each run to keep exploring
 * (fast-check prints the seed of any failure). FC_SEED=N replays N anywhere.
 */
const fc = require('fast-check');

const CI_SEED = 20261203;
const given = process.env.FC_SEED;
if (given !== undefined) fc.configureGlobal({ seed: Number(given) });
else if (process.env.CI) fc.configureGlobal({ seed: CI_SEED });
