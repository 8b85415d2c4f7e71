import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';

// `ui/dist` stays in git as an empty folder (its own .gitignore) so the server crate's
// build script always finds its embed target; vite empties the folder, so put it back.
const keepDistPlaceholder: Plugin = {
  name: 'keep-dist-placeholder',
  generateBundle() {
    this.emitFile({ type: 'asset', fileName: '.gitignore', source: '*\n!.gitignore\n' });
  },
};

export default defineConfig({
  // Relative asset URLs: the server injects <base href> so --static-prefix works.
  base: './',
  plugins: [keepDistPlaceholder],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', assetsDir: 'assets', target: 'es2022', sourcemap: false },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
