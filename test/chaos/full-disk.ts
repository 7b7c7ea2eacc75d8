/**
 * A full disk, for real: a small tmpfs mounted under the data directory and filled with a ballast
 * file until the kernel says `ENOSPC`, to every writer at once (the orchestrator's log, the
 * embedded nats-server's store, the runners' pane logs, the agents' worktrees). `ulimit -f` is no
 * stand-in (docs/CHAOS.md): it caps each file with `EFBIG`, never the directory.
 *
 * Mounting needs root or `CAP_SYS_ADMIN`; without it `mountTmpfs` throws, naming what is missing:
 * the test that asked for a full disk fails rather than pass without one.
 */
import { execa } from 'execa';
import { open, rm, statfs } from 'node:fs/promises';

export async function mountTmpfs(dir: string, bytes: number): Promise<void> {
  const mounted = await execa('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir], { reject: false });
  if (mounted.exitCode !== 0) {
    const who = process.getuid?.() === 0 ? 'root, but without CAP_SYS_ADMIN' : `uid ${process.getuid?.()}`;
    throw new Error(
      `a full disk needs a file system of its own to fill: mounting a tmpfs on ${dir} needs root or CAP_SYS_ADMIN (this runs as ${who}); ` +
        `mount said: ${String(mounted.stderr || mounted.message).trim()}`,
    );
  }
}

/** Unmounts `dir`; lazily (`umount -l`) when something still holds it. */
export async function unmountTmpfs(dir: string): Promise<void> {
  const unmounted = await execa('umount', [dir], { reject: false });
  if (unmounted.exitCode !== 0) await execa('umount', ['-l', dir], { reject: false });
}

/** Bytes a process may still write on the file system that holds `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}

/**
 * Writes `file` until the file system refuses with `ENOSPC`, in smaller and smaller pieces down to
 * one page, so not a page is left; returns the bytes written.
 */
export async function fillWithBallast(file: string): Promise<number> {
  const handle = await open(file, 'w', 0o600);
  const piece = Buffer.alloc(1024 * 1024, 0x5a);
  let written = 0;
  try {
    for (let size = piece.length; size >= 4096; ) {
      try {
        const { bytesWritten } = await handle.write(piece, 0, size);
        written += bytesWritten;
        if (bytesWritten < size) size /= 2;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
        size /= 2;
      }
    }
  } finally {
    await handle.close();
  }
  return written;
}

export async function removeBallast(file: string): Promise<void> {
  await rm(file, { force: true });
}
