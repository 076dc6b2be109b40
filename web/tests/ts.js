// Import a TypeScript module of src/ in node's test runner: esbuild (Vite's own) turns it into
// a temporary ES module first.

import { buildSync } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');

/** importTs('lib/format.ts') resolves the module's exports. */
export async function importTs(file) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'oxve-ts-'));
  const out = path.join(dir, 'module.mjs');
  try {
    buildSync({ entryPoints: [path.join(SRC, file)], bundle: true, format: 'esm', platform: 'neutral', outfile: out, logLevel: 'error' });
    return await import(pathToFileURL(out).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
