/**
 * One running orchestra: checks what it needs before starting anything (config, secrets, the
 * nats-server binary, the NATS identities; a live run file, the sandbox and the workspace
 * repository in start-checks.ts), starts the tree, writes the run file, and stops it all in
 * reverse order on request. Signals are the CLI's business: this module only offers `stop()`.
 */
import { nodeNameOf } from '../config/sections/cluster.ts';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createActor, type Actor } from 'xstate';
import type { LoadedConfig } from '../config/load.ts';
import { ConfigInvalidError } from '../config/problems.ts';
import { knownSecretValues, resolveSecrets } from '../config/secrets.ts';
import { logFilePath, logRotationOf, repoDirOf } from '../config/paths.ts';
import { ErrorCodes, MiyabiError, describeError } from '../errors.ts';
import { actorLogger, createLogger, flushLogger, type LoggerOptions } from '../infra/observe/logger.ts';
import { textRedactor } from '../infra/observe/redact.ts';
import { OrchestraMetrics } from '../infra/observe/metrics.ts';
import { findFreePort, findNatsServerBinary, natsUrl } from '../infra/nats/embedded-server.ts';
import { supervisorLogic, supervisorOf, type Supervisor, type SupervisorEvent, type TreeNode } from '../supervisor/index.ts';
import type { EmbeddedNatsOptions } from '../actors/nats-server.ts';
import type { OrchestraResources } from '../actors/resources.ts';
import { removeRunFile, writeRunFile, type RunFile } from './run-file.ts';
import { findRunnerBundle } from './runner-bundle.ts';
import { buildTree } from './tree.ts';
import { agentStages, missingAgentPrograms, missingIssueDirectory, unservedStages } from './workable-config.ts';
import { faultBook, observeSupervisorEvent } from './supervisor-events.ts';
import { registerScrapeMetrics } from '../actors/metrics-collectors.ts';
import { registerKpiGauges } from '../actors/kpi-gauges.ts';
import { taskSubject } from '../runner/task-message.ts';
import { packageVersion } from '../package-root.ts';
import { TaskSamples } from '../machines/health-anomaly.ts';
import { checkPreviousRun, checkSandbox, prepareWorkspace, type Refuse } from './start-checks.ts';
import { dataDirError, markerKey, prepareDataDir } from './installation.ts';
import { ORCHESTRATOR, prepareNatsAuth, usesIdentities } from './nats-auth.ts';
import { createIssueSource } from '../issues/create-source.ts';
import type { IssueSource } from '../issues/source.ts';
import { loadDependencyFile } from '../workflow/dependency-file.ts';
import { WorkflowMetrics } from '../workflow/metrics.ts';
import { KPI_TYPES, kpiFactPublisher, type FaultPayload, type RecoveryPayload } from '../workflow/kpi-facts.ts';
import { IssueVouchers } from '../workflow/vouchers.ts';
import { localMergePort } from '../workflow/workspace-git.ts';
import { InspectionHub } from '../actors/inspection.ts';

export interface Orchestra {
  readonly logger: Logger;
  readonly resources: OrchestraResources;
  inspect(): TreeNode;
  /** The root supervisor, to reach into the tree (tests, and the operators' tools to come). */
  root(): Supervisor | undefined;
  /** Graceful stop in reverse start order; resolves when everything has stopped. */
  stop(reason?: string): Promise<void>;
  /** Resolves when the orchestra has stopped: cleanly (`error` undefined) or by escalation. */
  readonly finished: Promise<{ error: unknown }>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Where log lines go besides the file; default stdout. */
  logStream?: LoggerOptions['stdout'];
  /** An issue source of the caller's (tests); default: the configured one. */
  issueSource?: IssueSource;
  /** Called when a stop is requested from outside (the control actor), before stopping. */
  onStopRequested?: (reason: string) => void;
  /** Batch mode (`up --once`): the HTTP endpoint moves to a free port when its own is taken. */
  batch?: boolean;
  /** Told each step of the start, in words (the service manager's `STATUS=`). */
  onProgress?: (status: string) => void;
  /** Told every event of the supervisors, after the orchestra's own logging. */
  onSupervisorEvent?: (event: SupervisorEvent) => void;
  /** The clock of the budget day (tests move it past midnight); default the system's. */
  budgetClock?: () => number;
}

export async function startOrchestra(loaded: LoadedConfig, options: StartOptions = {}): Promise<Orchestra> {
  const { config } = loaded;
  const { secrets, problems } = resolveSecrets(config, options.env ?? process.env);
  if (problems.length > 0) throw new ConfigInvalidError(loaded.path, problems);
  // What can be judged without the data directory is judged before it is made.
  const dependencyFile = await loadDependencyFile(config);
  if (!dependencyFile.ok) throw new ConfigInvalidError(loaded.path, dependencyFile.problems);
  // A data directory this start makes is removed again when the config proves unworkable later.
  const dataDirIsNew = !existsSync(config.dataDir);
  const refuse: Refuse = async (path, message) => {
    await flushLogger(logger);
    if (dataDirIsNew) await rm(config.dataDir, { recursive: true, force: true });
    throw new ConfigInvalidError(loaded.path, [{ path, message }]);
  };

  const embedded = config.nats.urls.length === 0;
  const binary = embedded ? findNatsServerBinary(config.nats.embedded.binary) : undefined;

  // Private before anything is written there; then the NATS identities (repaired for the
  // embedded server, whose config is written from them; refused naming the file for an external one).
  const progress = options.onProgress ?? (() => undefined);
  progress(`preparing the data directory ${config.dataDir}`);
  const modeRepairs = await prepareDataDir(config).catch((error: unknown) => {
    throw dataDirError(loaded.path, config.dataDir, error);
  });
  const credentialRepairs: Array<{ file: string; repaired: string; created: boolean }> = [];
  const natsAuth = usesIdentities(config)
    ? await prepareNatsAuth(config, { repair: embedded, onRepair: (file, repaired, created = false) => credentialRepairs.push({ file, repaired, created }) })
    : undefined;
  const seeds = natsAuth ? [...natsAuth.identities.values()].map((identity) => identity.seed) : [];
  const secretList = knownSecretValues(secrets, config, options.env ?? process.env, seeds);
  const logger = createLogger({
    level: config.log.level,
    filePath: config.log.file ? logFilePath(config) : undefined,
    rotation: logRotationOf(config),
    redactPaths: config.log.redact,
    secrets: secretList,
    ...(options.logStream === undefined ? {} : { stdout: options.logStream }),
  });
  for (const repair of modeRepairs) logger.warn({ actorId: 'orchestra', ...repair }, 'data directory made private');
  for (const { file, repaired, created } of credentialRepairs) {
    if (created) logger.info({ actorId: 'orchestra', file }, 'NATS identity created');
    else logger.warn({ actorId: 'orchestra', file, repaired }, 'NATS credentials repaired');
  }

  await checkPreviousRun(config.dataDir, logger);
  await checkSandbox(config, logger, refuse);
  progress('checking the workspace repository');
  const { worktrees, workspace } = await prepareWorkspace(config, logger, refuse);

  // `config check` refuses these; a running orchestra says them and serves what it can.
  const unworkable = [...unservedStages(config), ...missingAgentPrograms(config, options.env ?? process.env)];
  if (!options.issueSource) unworkable.push(...missingIssueDirectory(config));
  for (const { path, message } of unworkable) {
    logger.warn({ actorId: 'orchestra', path }, `config: ${message}`);
  }
  for (const message of dependencyFile.ignored) logger.info({ file: config.workflow.dependenciesFile }, message);
  const metrics = new OrchestraMetrics();
  // In cluster mode every series names its node, so the nodes' /metrics can be scraped into one Prometheus.
  if (config.cluster) metrics.registry.setDefaultLabels({ node: nodeNameOf(config.cluster) });
  // KPI facts go on the bus of the moment (`resources` is there by the time anything happens).
  const publishFact = kpiFactPublisher(() => resources.bus, logger);
  const workflowMetrics = new WorkflowMetrics(metrics.registry, {
    onIntervention: (kind, issue) => {
      if (kind !== 'needs_input') void publishFact(KPI_TYPES.intervention, { kind, ...(issue === undefined ? {} : { issue }) });
    },
  });
  const issueSource =
    options.issueSource ??
    createIssueSource(config, secrets, logger.child({ actorId: 'issue-source' }), {
      localRepository: localMergePort(repoDirOf(config)),
      markerKey: await markerKey(config.dataDir),
      onOutage: (outage) => {
        if (outage.recovered) return workflowMetrics.trackerDegraded(false);
        workflowMetrics.trackerWait(outage.kind);
        workflowMetrics.trackerDegraded(true);
      },
      onRateLimit: (resource, remaining, limit) => metrics.githubRateLimit(resource, remaining, limit),
    });
  if (issueSource.checkAccess) {
    progress('checking access to the issue tracker');
    try {
      await issueSource.checkAccess();
    } catch (error) {
      await issueSource.close().catch(() => undefined);
      await flushLogger(logger);
      throw error;
    }
  }

  let embeddedNats: EmbeddedNatsOptions | undefined;
  let servers = config.nats.urls;
  if (binary) {
    const { host } = config.nats.embedded;
    const port = config.nats.embedded.port || (await findFreePort(host));
    const url = natsUrl(host, port);
    embeddedNats = {
      binary,
      host,
      port,
      url,
      storeDir: join(config.dataDir, 'nats'),
      configFile: natsAuth!.serverConfigFile!,
      probeSeed: natsAuth!.identities.get(ORCHESTRATOR)!.seed,
      logger: logger.child({ actorId: 'nats-server' }),
      minFreeBytes: () => config.health.minFreeDiskBytes,
    };
    servers = [url];
  }

  const runnerBundle = await findRunnerBundle(logger);
  let root: Actor<typeof supervisorLogic> | undefined;
  let stopRequested: ((reason: string) => void) | undefined;
  const faultFacts = { fault: (fact: FaultPayload) => void publishFact(KPI_TYPES.fault, fact), recovery: (fact: RecoveryPayload) => void publishFact(KPI_TYPES.recovery, fact) };
  const resources: OrchestraResources = {
    config,
    configPath: loaded.isDefault ? undefined : loaded.path,
    batch: options.batch === true,
    paneDriver: undefined,
    spares: undefined,
    runnerBundle,
    worktrees,
    workspace,
    secrets,
    secretValues: secretList,
    redact: textRedactor(secretList),
    natsIdentities: natsAuth?.identities,
    issueVouchers: new IssueVouchers(),
    taskSamples: new TaskSamples(),
    heartbeats: new Map(),
    faults: faultBook(metrics, faultFacts),
    logger,
    metrics,
    workflowMetrics,
    busObserver: metrics.busObserver(),
    natsServers: servers,
    nc: undefined,
    bus: undefined,
    httpUrl: undefined,
    inspection: new InspectionHub({ config, logger: actorLogger(logger, 'inspection'), redact: textRedactor(secretList), registry: metrics.registry }),
    issueSource,
    extraDependencies: dependencyFile.dependencies,
    pushBranch: issueSource.kind === 'github' ? (branch) => workspace.publish(branch) : undefined,
    workflow: undefined,
    budget: undefined,
    budgetClock: options.budgetClock ?? Date.now,
    watcher: undefined,
    startedAt: new Date(),
    root: () => supervisorOf(root),
    inspect: () => supervisorOf(root)?.inspect() ?? { id: 'root', type: 'supervisor', status: 'stopped', state: 'stopped', restarts: 0, uptimeMs: 0 },
    requestStop: (reason) => stopRequested?.(reason),
  };

  registerScrapeMetrics(resources);
  registerKpiGauges(resources);
  const roles = Object.keys(config.agents).filter((role) => role !== 'conductor');
  // Every priority an issue can have: each label's, the default's, and each the SLA list names.
  const { priority } = config.workflow;
  workflowMetrics.known(roles, Math.max(priority.slaMs.length, priority.default + 1, ...Object.values(priority.labels).map((level) => level + 1)), agentStages(config));
  for (const role of roles) metrics.busSubjectKnown(taskSubject(role));
  metrics.buildInfo({ version: packageVersion(), nodejs: process.version, natsMode: binary ? 'embedded' : 'external' });

  const runFile: RunFile = {
    pid: process.pid,
    startedAt: resources.startedAt.toISOString(),
    natsUrl: servers[0]!,
    configPath: loaded.path,
    ...(embeddedNats ? { natsStoreDir: embeddedNats.storeDir } : {}),
  };
  let runFileWritten = false;
  const listener = (event: SupervisorEvent) => {
    observeSupervisorEvent(event, logger, metrics, Date.now(), faultFacts);
    options.onSupervisorEvent?.(event);
    if (event.type === 'child.started' && event.child === 'nats-server') {
      const pid = (supervisorOf(root)?.childSupervisor('broker')?.childActor('nats-server')?.getSnapshot() as { context?: { detail?: { pid?: number } } })
        ?.context?.detail?.pid;
      if (pid) runFile.natsServerPid = pid;
      if (runFileWritten) void writeRunFile(config.dataDir, { ...runFile, httpUrl: resources.httpUrl });
    }
  };

  logger.info({ configPath: loaded.path, dataDir: config.dataDir, nats: embedded ? 'embedded' : 'external' }, 'orchestra starting');
  progress('starting the supervisor tree');
  const finished = new Promise<{ error: unknown }>((resolve) => {
    root = createActor(supervisorLogic, { input: buildTree(resources, { embeddedNats, listener }), id: 'root', inspect: (event) => resources.inspection.inspector('root', event) });
    root.subscribe({
      error: (error) => resolve({ error }),
      complete: () => resolve({ error: undefined }),
    });
  });
  const started = new Promise<void>((resolve, reject) => {
    root!.subscribe({
      next: (snapshot) => snapshot.context.ready && resolve(),
      error: reject,
      complete: () => reject(new MiyabiError(ErrorCodes.OrchestraNotRunning, 'orchestra stopped while starting')),
    });
  });
  root!.start();

  let stopping: Promise<void> | undefined;
  const stop = (reason = 'stop') => {
    stopping ??= (async () => {
      logger.info({ reason }, 'orchestra stopping');
      if (root!.getSnapshot().status === 'active') {
        // Asked to stop (not given up): for the KPIs the gap until the next start is no fault (docs/KPI.md).
        await withinMs(STOPPED_FACT_WAIT_MS, publishFact(KPI_TYPES.stopped, { reason }));
        root!.send({ type: 'supervisor.shutdown' });
      }
      await finished;
      await issueSource.close().catch(() => undefined);
      await removeRunFile(config.dataDir);
      logger.info('orchestra stopped');
      await flushLogger(logger);
    })();
    return stopping;
  };
  stopRequested = (reason) => {
    options.onStopRequested?.(reason);
    void stop(reason);
  };

  try {
    await started;
  } catch (error) {
    logger.error({ err: describeError(error) }, 'orchestra failed to start');
    await flushLogger(logger);
    throw error;
  }
  await writeRunFile(config.dataDir, { ...runFile, httpUrl: resources.httpUrl });
  runFileWritten = true;
  logger.info({ natsUrl: runFile.natsUrl, httpUrl: resources.httpUrl, pid: process.pid }, 'orchestra running');
  void finished.then(async ({ error }) => {
    if (error) {
      logger.fatal({ err: describeError(error) }, 'orchestra root supervisor failed');
      await removeRunFile(config.dataDir);
    }
  });

  return { logger, resources, inspect: resources.inspect, root: () => supervisorOf(root), stop, finished };
}

/** A stop waits this long at most for its `kpi.stopped` to be stored: a dead bus must not hold it up. */
const STOPPED_FACT_WAIT_MS = 500;

async function withinMs(ms: number, work: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
