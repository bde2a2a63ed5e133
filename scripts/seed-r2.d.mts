// Types for scripts/seed-r2.mjs, which vitest.config.ts imports.
export function modelPackageFiles(modelsDir?: string): { key: string; path: string }[];
