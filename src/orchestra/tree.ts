/**
 * The supervision tree of one orchestra:
 *
 *   root (rest_for_one)
 *   ├─ http            /metrics /healthz /readyz
 *   ├─ broker (one_for_one)   embedded mode only
 *   │   └─ nats-server
 *   ├─ bus             NATS connection + JetStream streams + KV
 *   ├─ control         status / stop over NATS request-reply
 *   ├─ panes           the tmux session (or headless process driver) agent runners live in
 *   ├─ membership      cluster mode only: joins the cluster (refused at start if the bucket is
 *   │                  another cluster's), writes this node's heartbeat, and while the leader
 *   │                  refuses this node's config keeps it off the lease and its pools stopped
 *   ├─ core (one_for_one)
 *   │   ├─ issue-watcher   reads the tracker, gates trust, publishes issue events
 *   │   ├─ workflow (one_for_all)   src/actors/workflow.ts
 *   │   │   ├─ dag         the dependency graph
 *   │   │   ├─ scheduler   the ready queue
 *   │   │   └─ lifecycles  every issue's lifecycle, the KV commit; dispatches, writes back
 *   │   ├─ workspace       worktree clean-up
 *   │   ├─ log-indexer     keeps the log index up to date (`logs index` every log.index.intervalMs)
 *   │   ├─ pool-scaler     grows and shrinks the pools
 *   │   ├─ reporter        daily and weekly reports, when reports.daily/weekly are set
 *   │   ├─ health-monitor  periodic checks
 *   │   └─ leadership      cluster mode only: the leader lease; while this node holds it, the
 *   │                      issue watcher, the workflow and the reporter run in `leader`, a subtree
 *   │                      of `core` it starts on `elected` and stops on `deposed`
 *   └─ agents (one_for_one)
 *       └─ pool.<role> (one_for_one, backoff) → <role>-1 … <role>-min (agent-pane: runner + watchdog)
 *
 * rest_for_one at the root: when something dies, everything started after it (everything that
 * may hold on to it) restarts too. The bus dying restarts control, panes, core and agents; one
 * agent dying restarts that agent alone. The embedded server is the exception, under a
 * supervisor of its own: every client of it (the bus, each runner) reconnects by itself to the
 * same URL and the store survives, so a dead server is restarted alone, at once, and nothing
 * after it stops (stopping them against a dead bus took their whole shutdown time, and killed
 * the agents' work). Only a server that keeps dying (the broker's restart intensity) takes the
 * rest down with it. docs/ARCHITECTURE.md ("The tree") says what each actor owns.
 */
import { logIndexerChild } from '../actors/log-indexer.ts';
import type { OrchestraConfig } from '../config/schema.ts';
import { agentPoolChild } from '../actors/agent-pool.ts';
import { busConnectionChild } from '../actors/bus-connection.ts';
import { controlChild } from '../actors/control.ts';
import { healthMonitorChild, issueWatcherChild } from '../actors/core.ts';
import { httpEndpointChild } from '../actors/http-endpoint.ts';
import { workspaceChild } from '../actors/workspace.ts';
import { workflowChild } from '../actors/workflow.ts';
import { poolScalerChild } from '../actors/pool-scaler.ts';
import { embeddedNatsChild, type EmbeddedNatsOptions } from '../actors/nats-server.ts';
import { panesChild } from '../actors/panes.ts';
import { reporterChild } from '../actors/reporter.ts';
import { LEADER_SUBTREE, leadershipChild } from '../actors/leadership.ts';
import { membershipChild } from '../actors/membership.ts';
import { supervisorChild, type ChildSpec, type SupervisorListener, type SupervisorSettings, type SupervisorSpec } from '../supervisor/index.ts';
import type { OrchestraResources } from '../actors/resources.ts';

export function supervisorSettings(config: OrchestraConfig): SupervisorSettings {
  const { restartIntensity, restartPeriodMs, backoff } = config.supervisor;
  return { restartIntensity, restartPeriodMs, ...(backoff ? { backoff } : {}) };
}

export function buildTree(
  resources: OrchestraResources,
  options: { embeddedNats?: EmbeddedNatsOptions; listener: SupervisorListener },
): SupervisorSpec {
  const { config } = resources;
  const settings = supervisorSettings(config);
  const infra: ChildSpec[] = [
    ...(config.http.enabled ? [httpEndpointChild(resources)] : []),
    ...(options.embeddedNats
      ? [supervisorChild({ ...settings, id: 'broker', strategy: 'one_for_one', children: [embeddedNatsChild(options.embeddedNats)] })]
      : []),
    busConnectionChild(resources),
    controlChild(resources),
    panesChild(resources),
  ];
  const withShutdown = (child: ChildSpec): ChildSpec => ({ shutdown: config.supervisor.shutdownTimeoutMs, ...child });
  // The work that must happen in one place: on a single node it is part of `core`; in cluster mode
  // (a `cluster:` section) it is the `leader` subtree, started under `core` by the leadership actor
  // while this node holds the lease (src/actors/leadership.ts, docs/CLUSTER.md).
  const leaderOnly = (): ChildSpec[] => {
    const reporter = reporterChild(resources);
    return [withShutdown(issueWatcherChild(resources)), workflowChild(resources, settings), ...(reporter ? [withShutdown(reporter)] : [])];
  };
  const leaderSubtree = (): ChildSpec => ({
    ...supervisorChild({ ...settings, id: LEADER_SUBTREE, strategy: 'one_for_one', children: leaderOnly() }),
    // Stopped on purpose when deposed; after a crash past its intensity `core` starts it again while the lease is held.
    restart: 'transient',
    shutdown: config.supervisor.shutdownTimeoutMs + 10_000,
  });
  const single = config.cluster === undefined;
  const pools = (): ChildSpec[] => Object.entries(config.agents).map(([role, agent]) => agentPoolChild(resources, role, agent, settings));
  const agentsChild = (): ChildSpec => {
    const spec = supervisorChild({ ...settings, id: 'agents', strategy: 'one_for_one', children: [] });
    // Read as the supervisor starts (and restarts): a node the cluster's leader refuses starts no
    // pool at all, not one that could take a task before the refusal stops it (membership, started
    // before, knows by then).
    Object.defineProperty(spec.input, 'children', { enumerable: true, get: () => (resources.clusterRefusal ? [] : pools()) });
    return spec;
  };
  const [watcher, workflow, reporter] = single ? leaderOnly() : [];
  return {
    id: 'root',
    strategy: 'rest_for_one',
    ...settings,
    listener: options.listener,
    inspect: resources.inspection.inspector,
    children: [
      ...infra,
      // Before `core` and `agents`: a node of another cluster is refused before it stands for the
      // lease, and a refused node starts neither (src/actors/membership.ts).
      ...(single ? [] : [membershipChild(resources, pools)]),
      supervisorChild({
        ...settings,
        id: 'core',
        strategy: 'one_for_one',
        // The health monitor last of the node's own: its first check runs as it starts, and should
        // find its siblings already running. The leadership after it: the leader subtree it starts
        // comes after everything of the node's own, and is stopped before them.
        children: [
          ...(watcher ? [watcher] : []),
          ...(workflow ? [workflow] : []),
          workspaceChild(resources),
          logIndexerChild(resources),
          poolScalerChild(resources),
          ...(reporter ? [reporter] : []),
          withShutdown(healthMonitorChild(resources)),
          ...(single ? [] : [leadershipChild(resources, leaderSubtree)]),
        ],
      }),
      agentsChild(),
    ],
  };
}
