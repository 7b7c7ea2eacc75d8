#!/usr/bin/env node
/**
 * miyabi-orchestra: the command line. Subcommands parse their own flags with node:util
 * parseArgs (strict: an unknown flag is an error, exit 2).
 */
import { parseArgs } from 'node:util';
import { describeError } from '../errors.ts';
import { busStreams, busTail } from './commands/bus.ts';
import { configCheck, configSchema } from './commands/config.ts';
import { dagCheck, dagShow } from './commands/dag.ts';
import { doctor } from './commands/doctor.ts';
import { inspect } from './commands/inspect.ts';
import { installService } from './commands/install-service.ts';
import { issues } from './commands/issues.ts';
import { kpi } from './commands/kpi.ts';
import { report } from './commands/report.ts';
import { labelsSync } from './commands/labels.ts';
import { logsIndex, logsSearch } from './commands/logs.ts';
import { machines } from './commands/machines.ts';
import { natsConfig } from './commands/nats-config.ts';
import { pane } from './commands/pane.ts';
import { restart } from './commands/restart.ts';
import { budget } from './commands/budget.ts';
import { clusterDown, clusterUp } from './commands/cluster.ts';
import { status } from './commands/status.ts';
import { stop } from './commands/stop.ts';
import { up } from './commands/up.ts';
import { CliExit, ExitCode } from './output.ts';

const USAGE = `usage: miyabi-orchestra <command> [options]

  up [--config FILE] [--once]      run the orchestra in the foreground (SIGTERM/SIGINT stop it);
                                   --once: until the backlog settles, then print a summary
                                   (exit 0 all done, 1 any failed or blocked)
  cluster up [--nodes N] [--backlog DIR] [--once] [--kill-leader] [--dir DIR] [--config FILE]
                                   a local cluster: N nats-servers routed on loopback and N
                                   orchestra nodes on one backlog (docs/CLUSTER.md); --once: work
                                   it, print the node of each stage, exit 0 only when all done
                                   and nothing ran twice; --kill-leader: kill -9 the leader midway
  cluster down [--dir DIR]         stop the local cluster that cluster up runs in DIR
  status [--json] [--config FILE]  the running orchestra's supervisor tree (cluster mode: every node's)
  stop [--config FILE]             stop the running orchestra gracefully
  restart AGENT [--config FILE]    restart one agent by hand (counted as a manual_restart)
  budget [status|resume] [--json]  the budget day's spend; resume: lift the daily budget's hold until the next budget day
  config check [--config FILE]     validate a config file (exit 2 on problems)
  config schema [--write]          print (or write to config/) the config's JSON Schema
  doctor [--config FILE]           check what this host needs
  issues [--json]                  what the running orchestra does with each issue (state, attempts, why)
  kpi [--since T] [--json]         the plan's five KPIs since T (default 24h; 90s, 30m, 1h, 7d or an
                                   ISO time) from the running orchestra's bus (docs/KPI.md)
  report --period daily|weekly [--at DATE] [--format md|json] [--post]
                                   the daily or weekly report of the period containing DATE (default
                                   now, in reports.timeZone); --post posts it (docs/OPERATIONS.md)
  dag check [--config FILE]        validate the backlog's dependencies (exit 2 on a cycle, naming it)
  dag show [--format F]            the dependency graph with each issue's state (mermaid, dot, json)
  machines [--format F] [--machine ID]
                                   every state machine drawn from its definition, offline
                                   (mermaid stateDiagram-v2 or json; docs/CONSOLE.md)
  inspect [--issue N] [--actor ID] [--count N] [--json]
                                   the running orchestra's inspection events, live (with --issue:
                                   its recorded transitions first)
  labels sync [--config FILE]      create the labels the orchestra uses on the tracker, when missing
  bus streams [--json]             streams and consumers with their counts
  bus tail [SUBJECT] [--count N] [--heartbeats]
                                   print live bus messages (default subject miyabi.>); the
                                   runners' heartbeats only with --heartbeats
  logs search QUERY [--issue N] [--agent ID] [--task ID] [--since T] [--limit N] [--json]
                                   search the orchestra's, runners' and agents' logs (FTS5 query
                                   syntax; --since 2h or an ISO time); the index is updated first
  logs index [--config FILE]       bring the log index up to date (the running orchestra does it
                                   every log.index.intervalMs)
  nats-config [--account NAME]     the orchestra's NATS users and permissions, for an external
                                   server (seeds made in <dataDir>/secrets/nats; docs/SECURITY.md)
  pane --agent ID --role ROLE      the runner inside an agent's pane (started by the orchestra)
  install-service [--user NAME] [--config FILE] [--create-user] [--print]
                                   write the hardened systemd unit (and a starter config);
                                   --print: only print the unit (docs/OPERATIONS.md)

Without --config the embedded default (config/miyabi.yaml of the package) is used.
`;

const common = { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } as const;

/** `--help` after a command: the usage, and nothing of the command done (`up --help` must not start anything). */
class HelpAsked extends Error {}

function parse<T extends Record<string, { type: 'string' | 'boolean'; short?: string }>>(args: string[], options: T) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...common, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliExit(ExitCode.invalid, `${describeError(error)}\n\n${USAGE}`);
  }
  if ((parsed.values as { help?: boolean }).help === true) throw new HelpAsked();
  return parsed;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up': {
      const { values } = parse(rest, { once: { type: 'boolean' } });
      return up(values);
    }
    case 'cluster': {
      const [sub, ...args] = rest;
      const { values } = parse(args, {
        nodes: { type: 'string' },
        backlog: { type: 'string' },
        dir: { type: 'string' },
        once: { type: 'boolean' },
        'kill-leader': { type: 'boolean' },
        'lease-ttl': { type: 'string' },
        timeout: { type: 'string' },
      });
      if (sub === 'up') return clusterUp(values);
      if (sub === 'down') return clusterDown(values);
      throw new CliExit(ExitCode.invalid, `unknown cluster subcommand ${sub ?? '(none)'}\n\n${USAGE}`);
    }
    case 'status': {
      const { values } = parse(rest, { json: { type: 'boolean' } });
      return status(values);
    }
    case 'stop': {
      const { values } = parse(rest, { timeout: { type: 'string' } });
      return stop(values);
    }
    case 'restart': {
      const { values, positionals } = parse(rest, {});
      return restart(positionals[0], values);
    }
    case 'budget': {
      const { values, positionals } = parse(rest, { json: { type: 'boolean' } });
      return budget(positionals[0], values);
    }
    case 'config': {
      const [sub, ...args] = rest;
      const { values } = parse(args, { write: { type: 'boolean' } });
      if (sub === 'check') return configCheck(values);
      if (sub === 'schema') return configSchema(values);
      throw new CliExit(ExitCode.invalid, `unknown config subcommand ${sub ?? '(none)'}\n\n${USAGE}`);
    }
    case 'issues': {
      const { values } = parse(rest, { json: { type: 'boolean' } });
      return issues(values);
    }
    case 'kpi': {
      const { values } = parse(rest, { json: { type: 'boolean' }, since: { type: 'string' } });
      return kpi(values);
    }
    case 'report': {
      const { values } = parse(rest, { period: { type: 'string' }, at: { type: 'string' }, format: { type: 'string' }, post: { type: 'boolean' } });
      return report(values);
    }
    case 'dag': {
      const [sub, ...args] = rest;
      const { values } = parse(args, { format: { type: 'string' } });
      if (sub === 'check') return dagCheck(values);
      if (sub === 'show') return dagShow(values);
      throw new CliExit(ExitCode.invalid, `unknown dag subcommand ${sub ?? '(none)'}\n\n${USAGE}`);
    }
    case 'machines': {
      const { values } = parse(rest, { format: { type: 'string' }, machine: { type: 'string' } });
      return machines(values);
    }
    case 'inspect': {
      const { values } = parse(rest, { issue: { type: 'string' }, actor: { type: 'string' }, count: { type: 'string' }, json: { type: 'boolean' } });
      return inspect(values);
    }
    case 'labels': {
      const [sub, ...args] = rest;
      const { values } = parse(args, {});
      if (sub === 'sync') return labelsSync(values);
      throw new CliExit(ExitCode.invalid, `unknown labels subcommand ${sub ?? '(none)'}\n\n${USAGE}`);
    }
    case 'logs': {
      const [sub, ...args] = rest;
      const { values, positionals } = parse(args, {
        issue: { type: 'string' },
        agent: { type: 'string' },
        task: { type: 'string' },
        since: { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean' },
      });
      if (sub === 'search') return logsSearch(positionals, values);
      if (sub === 'index') return logsIndex(values);
      throw new CliExit(ExitCode.invalid, `unknown logs subcommand ${sub ?? '(none)'}\n\n${USAGE}`);
    }
    case 'install-service': {
      const { values } = parse(rest, {
        user: { type: 'string' },
        print: { type: 'boolean' },
        'create-user': { type: 'boolean' },
        'unit-dir': { type: 'string' },
      });
      return installService(values);
    }
    case 'doctor': {
      const { values } = parse(rest, {});
      return doctor(values);
    }
    case 'nats-config': {
      const { values } = parse(rest, { account: { type: 'string' } });
      return natsConfig(values);
    }
    case 'pane': {
      const { values } = parse(rest, { agent: { type: 'string' }, role: { type: 'string' }, spare: { type: 'string' } });
      return pane(values);
    }
    case 'bus': {
      const [sub, ...args] = rest;
      const { values, positionals } = parse(args, { json: { type: 'boolean' }, count: { type: 'string' }, heartbeats: { type: 'boolean' } });
      if (sub === 'streams') return busStreams(values);
      if (sub === 'tail') return busTail(positionals[0], values);
      throw new CliExit(ExitCode.invalid, `unknown bus subcommand ${sub ?? '(none)'}\n\n${USAGE}`);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? ExitCode.invalid : ExitCode.ok;
    default:
      throw new CliExit(ExitCode.invalid, `unknown command ${command}\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof HelpAsked) {
      process.stdout.write(USAGE);
      process.exit(ExitCode.ok);
    }
    if (error instanceof CliExit) {
      if (error.message) process.stderr.write(`${error.message}\n`);
      process.exit(error.exitCode);
    }
    process.stderr.write(`miyabi-orchestra: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(ExitCode.failure);
  },
);
