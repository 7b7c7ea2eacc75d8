/**
 * Free space on the file system that holds a directory: what the health monitor watches and what
 * the disk guard reads before dispatching work (src/actors/lifecycles.ts).
 */
import { statfs } from 'node:fs/promises';

export interface DiskSpace {
  /** Bytes an unprivileged process may still write. */
  freeBytes: number;
  /** That, as a share (0..1) of the file system's size. */
  freeRatio: number;
  /** The file system's size. */
  sizeBytes: number;
}

/** Undefined when the file system cannot be read (the directory is missing, say). */
export async function diskSpace(dir: string): Promise<DiskSpace | undefined> {
  try {
    const stats = await statfs(dir);
    if (stats.blocks <= 0) return undefined;
    return { freeBytes: stats.bavail * stats.bsize, freeRatio: stats.bavail / stats.blocks, sizeBytes: stats.blocks * stats.bsize };
  } catch {
    return undefined;
  }
}
