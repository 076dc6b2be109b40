// Build of the web UI: `npm run build` writes dist/ (index.html + hashed files under assets/),
// which the daemon embeds at compile time (crates/oxve-api/build.rs).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 800,
    // No inline data: URLs for fonts/images: the page's CSP allows 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
});
