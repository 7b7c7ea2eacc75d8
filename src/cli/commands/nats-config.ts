/**
 * `nats-config [--account NAME]`: for an external NATS, the orchestra's identities and their
 * permissions as a server config block (an account of their own, with JetStream), the same
 * split the embedded server runs with (src/orchestra/nats-auth.ts). The seeds are made (mode
 * 0600) in `<dataDir>/secrets/nats/` when missing; only public keys are printed. Give the block
 * to the server (`include`), set `nats.auth.identities: true`, and start the orchestra.
 */
import { describeError } from '../../errors.ts';
import { externalServerConfig, natsIdentityDir, prepareNatsAuth } from '../../orchestra/nats-auth.ts';
import { loadConfigOrExit } from '../connect.ts';
import { CliExit, ExitCode } from '../output.ts';

export async function natsConfig(flags: { config?: string; account?: string }): Promise<number> {
  const loaded = await loadConfigOrExit(flags.config);
  const account = flags.account ?? 'MIYABI';
  if (!/^[A-Za-z0-9_-]+$/.test(account)) throw new CliExit(ExitCode.invalid, `--account must be a plain name (got ${account})`);
  const { config } = loaded;
  let prepared;
  try {
    prepared = await prepareNatsAuth(config, {
      repair: true,
      writeServerConfig: false,
      onRepair: (file, what) => process.stderr.write(`${file}: ${what}\n`),
    });
  } catch (error) {
    throw new CliExit(ExitCode.failure, describeError(error));
  }
  const dir = natsIdentityDir(config.dataDir);
  process.stdout.write(
    [
      `# miyabi-orchestra's NATS users (data directory ${config.dataDir}).`,
      `# Their seeds are in ${dir} (mode 0600): the orchestra, its runners and its CLI read them there.`,
      '# Include this in the server config, then set `nats.auth.identities: true` in miyabi.yaml.',
      '# One runner user per slot of each role (agents.<role>.max, and a spare): after changing a max, run this again and reload the server.',
      ...(config.cluster ? ['# On a cluster each node has users of its own (runner-<node>-<role>-<slot>): merge every node\'s users into one account block.'] : []),
      externalServerConfig(prepared.identities, config, account),
    ].join('\n'),
  );
  return ExitCode.ok;
}
