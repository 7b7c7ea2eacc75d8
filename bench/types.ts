/** One line of the benchmark table (`npm run bench` prints them and writes docs/BENCHMARKS.md). */
export type BenchRow = { name: string; value: number; unit: string; note?: string };
