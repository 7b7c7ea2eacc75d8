/**
 * The systemd unit `miyabi-orchestra install-service` writes (and deploy/miyabi-orchestra.service
 * is, for the default paths): `Type=notify` with a watchdog (./service.ts), state in
 * `StateDirectory=miyabi` (`/var/lib/miyabi`, the config's `dataDir`), the config read from
 * `ConfigurationDirectory=miyabi`, no restart after exit 2 (an invalid config stays invalid), and
 * the sandbox `systemd-analyze security` scores (docs/OPERATIONS.md says what each line is for).
 *
 * What the sandbox cannot take away, and why: `MemoryDenyWriteExecute=` (V8 compiles code at run
 * time), `PrivateNetwork=`/`IPAddressDeny=` (GitHub, webhooks and NATS are on the network), and
 * the unit keeps `NotifyAccess=all` because `systemd-notify`, a child, sends the notifications
 * (src/infra/os/sd-notify.ts).
 */
import { dirname, join } from 'node:path';
import { packageRoot } from '../package-root.ts';

export const DEFAULT_SERVICE_USER = 'miyabi';
export const DEFAULT_SERVICE_CONFIG = '/etc/miyabi/miyabi.yaml';
export const SERVICE_DATA_DIR = '/var/lib/miyabi';
export const SERVICE_NAME = 'miyabi-orchestra.service';

export interface UnitOptions {
  /** The `miyabi-orchestra` program (the package's `bin/miyabi-orchestra`). */
  bin: string;
  /** Where `node` is: put first on the unit's PATH (a Node from nvm or /usr/local is found too). */
  nodeDir: string;
  user?: string;
  config?: string;
  /** Writable besides the data directory: a `workspace.repo` outside it, say. */
  extraWritable?: string[];
  /** Seconds without a watchdog ping before systemd restarts the service. */
  watchdogSec?: number;
}

export function renderUnit(options: UnitOptions): string {
  const user = options.user ?? DEFAULT_SERVICE_USER;
  const config = options.config ?? DEFAULT_SERVICE_CONFIG;
  const path = [options.nodeDir, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  const writable = [SERVICE_DATA_DIR, ...(options.extraWritable ?? [])];
  const lines = [
    '# Miyabi Orchestra as a systemd service; written by `miyabi-orchestra install-service`.',
    '# How to install, run, watch and upgrade it: docs/OPERATIONS.md.',
    '[Unit]',
    'Description=Miyabi Orchestra (AI coding agents under a supervisor tree)',
    `Documentation=file://${dirname(dirname(options.bin))}/docs/OPERATIONS.md`,
    'After=network-online.target',
    'Wants=network-online.target',
    'StartLimitIntervalSec=600',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=notify',
    'NotifyAccess=all',
    `ExecStart=${options.bin} up --config ${config}`,
    `User=${user}`,
    `Group=${user}`,
    `Environment=PATH=${[...new Set(path)].join(':')}`,
    `Environment=HOME=${SERVICE_DATA_DIR}`,
    '# tmux\'s sockets outside the private /tmp, so an operator can attach (docs/OPERATIONS.md).',
    `Environment=TMUX_TMPDIR=${SERVICE_DATA_DIR}`,
    'EnvironmentFile=-/etc/miyabi/env',
    `WorkingDirectory=${SERVICE_DATA_DIR}`,
    'StateDirectory=miyabi',
    'StateDirectoryMode=0700',
    'ConfigurationDirectory=miyabi',
    'ConfigurationDirectoryMode=0750',
    'UMask=0077',
    '',
    '# READY=1 once the tree is up; WATCHDOG=1 while every supervisor answers.',
    'TimeoutStartSec=180',
    `WatchdogSec=${options.watchdogSec ?? 60}`,
    'TimeoutStopSec=90',
    'KillMode=mixed',
    'Restart=on-failure',
    'RestartSec=5',
    '# Exit 2: the config (or the data directory) is wrong; restarting will not fix it.',
    'RestartPreventExitStatus=2',
    '',
    '# Sandbox.',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    `ReadWritePaths=${writable.join(' ')}`,
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'PrivateUsers=yes',
    'ProtectHostname=yes',
    'ProtectClock=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectProc=invisible',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    '# No namespaces, and systemd\'s own mounts over /proc: no room for the agents\' sandbox',
    '# (agents.<role>.isolation.sandbox); docs/OPERATIONS.md says what that means.',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'RemoveIPC=yes',
    'PrivateMounts=yes',
    'DevicePolicy=closed',
    'CapabilityBoundingSet=',
    'AmbientCapabilities=',
    'SystemCallArchitectures=native',
    'SystemCallFilter=@system-service',
    'SystemCallFilter=~@privileged @resources',
    'SystemCallErrorNumber=EPERM',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

/** The config a fresh install starts from: the data in the state directory, nothing else set. */
export function starterConfig(): string {
  return [
    '# Miyabi Orchestra: see docs/CONFIGURATION.md for every field.',
    `dataDir: ${SERVICE_DATA_DIR}`,
    // Workable as written: the package's demo backlog until the operator points it at theirs.
    'issues:',
    '  local:',
    `    dir: ${join(packageRoot(), 'examples', 'backlog')}`,
    'panes:',
    '  backend: process',
    '',
  ].join('\n');
}
