import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// During `npm run dev`, /ws is proxied to a meetd running locally
// (override with MEETD_URL, e.g. MEETD_URL=http://127.0.0.1:8080).
const meetd = process.env.MEETD_URL ?? 'http://127.0.0.1:8090';

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
  },
  server: {
    proxy: {
      '/ws': { target: meetd, ws: true },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
