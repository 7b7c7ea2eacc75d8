/**
 * Programs a test needs from the host (promtool, prometheus): run with reject: false, so a
 * failing run is the test's to judge, but a program that is not installed fails at once, naming
 * the Debian package that brings it, never a wait that times out or a test skipped in silence.
 */
import { execa, type Options } from 'execa';

export async function runTool(command: string, args: readonly string[], debianPackage: string, options: Options = {}) {
  const run = await execa(command, args, { ...options, reject: false });
  if ((run as { code?: string }).code === 'ENOENT') throw new Error(`${command} not found: install the Debian package "${debianPackage}" (./bootstrap test does)`);
  return run;
}
