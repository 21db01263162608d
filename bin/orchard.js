#!/usr/bin/env node
// The `orchard` executable: a thin launcher for the compiled CLI (built by `npm ci` through `prepare`).
import('../dist/apps/cli/src/main.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/apps/cli')) {
    console.error('orchard is not built yet: run `npm run build` (or `npm ci`) in the repository first');
  } else {
    console.error(error);
  }
  process.exitCode = 1;
});
