import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Skeleton; the engine issue adds: models/ served from the repo, ORT wasm served locally, worker format.
export default defineConfig({
  plugins: [react()],
});
