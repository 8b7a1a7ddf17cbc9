// Every Redis key and channel the redis state backend uses, in one place (docs/architecture.md
// "Scale-out on Redis"). Keys one script touches together share a hash tag (`{pool:<id>}`,
// `{task:<id>}`), so the same scripts would run on a Redis Cluster unchanged.

export interface StateKeys {
  /** One task's event stream (entry ids `<seq>-0`). */
  events(taskId: string): string;
  /** A replica's lease (value: its lease token). */
  lease(replicaId: string): string;
  /** Sorted set of replicas by lease expiry (Redis server time, ms): the live-replica registry. */
  readonly replicas: string;
  /** Who took over a replica whose lease expired (SET NX: exactly one survivor). */
  takeover(replicaId: string): string;
  /** Control messages to one replica (pub/sub channel). */
  control(replicaId: string): string;
  /** Pub/sub channel (not a key): tenants or API keys changed in the shared store; every replica reloads its directory. */
  readonly tenancy: string;
  /** One pool's shared queue, engine slots and running tasks (see PoolKeys). */
  pool(poolId: string): PoolKeys;
  /** One quota subject's counters (`tenant:<id>`, `key:<id>`). */
  quota(subject: string): string;
  /** A client task_id's record (hash: body digest `d`, admitting replica `by`, its task `t` and pool `p`, first answer `a`). */
  idempotency(key: string): string;
  /** The idempotency record keys a gateway replica admitted and has not answered yet (set; a takeover frees them). */
  unansweredTaskIds(replicaId: string): string;
  /** Which replica owns a task, and its pool (hash `owner`, `pool`): the task registry. */
  owner(taskId: string): string;
  /** What another replica needs to run a task (JSON: submission, owner, plan), written with its admission. */
  spec(taskId: string): string;
  /** Whether the task's admission was committed ('1') or refused ('0') by the audit: what a claimer waits for. */
  committed(taskId: string): string;
  /** Pub/sub channel (not a key): the admitter announces the `committed` verdict on it the moment it writes it. */
  commitVerdict(taskId: string): string;
  /** Set when a reader on any replica opened the task's stream: the unclaimed-stream timeout reads it once. */
  streamOpened(taskId: string): string;
  /** Hash gateway replica → readers following the task's stream there (reader-count.ts; the runner's own readers are not in it). */
  readers(taskId: string): string;
  /** Pub/sub channel (not a key): a replica's last reader of a task this replica owns left (the task id); the runner's orphan grace hears it. */
  readersGone(replicaId: string): string;
  /** The task ids a gateway replica's readers follow (set, reader-count.ts): a takeover of the replica tells their runners. */
  followedTasks(replicaId: string): string;
  /** One session (hash; see session-scripts.ts). */
  session(sessionId: string): string;
  /** Sorted set of live session ids by expiry (Redis server time): the cluster-wide session cap. */
  readonly sessions: string;
  /** Sorted set of one owner's sessions by expiry: live ones, and those admissions are creating (the tenant session cap; the session scripts derive it as `sessions + ':owner:' + owner`). */
  ownedSessions(owner: string): string;
  /** The session keys a gateway replica holds turns on (set; the session scripts derive it as `sessions + ':held:' + replica`). */
  heldSessions(replicaId: string): string;
}

export interface PoolKeys {
  /** Waiting task ids per class, scored by arrival order. */
  readonly interactive: string;
  readonly batch: string;
  /** Hash taskId → entry JSON (class, tenant, admitting replica). */
  readonly entries: string;
  /** Hash taskId → stash JSON of drop-lru victims an admission set aside until its commit settles them (the scripts derive it as `entries + ':aside'`). */
  readonly aside: string;
  /** Arrival counter (the queue score). */
  readonly arrivals: string;
  /** Hash of the smooth weighted round robin's running weights per class. */
  readonly turns: string;
  /** Hash engine replica → slots (the capacity the pool's replicas report). */
  readonly capacity: string;
  /** Hash engine replica → slots in use, cluster-wide. */
  readonly busy: string;
  /** Hash taskId → JSON (claiming gateway replica, engine replica, reservation) of the tasks running now. */
  readonly running: string;
  /** Pub/sub channel (not a key): a task was queued or a slot freed, so a replica may claim. */
  readonly wake: string;
}

export function stateKeys(prefix: string): StateKeys {
  return {
    events: (taskId) => `${prefix}{task:${taskId}}:events`,
    // The lease scripts touch a lease, the registry and a takeover key at once: one tag.
    lease: (replicaId) => `${prefix}{replicas}:lease:${replicaId}`,
    replicas: `${prefix}{replicas}:live`,
    takeover: (replicaId) => `${prefix}{replicas}:takeover:${replicaId}`,
    control: (replicaId) => `${prefix}control:${replicaId}`,
    tenancy: `${prefix}tenancy`,
    pool(poolId) {
      const tag = `${prefix}{pool:${poolId}}`;
      return {
        interactive: `${tag}:queue:interactive`,
        batch: `${tag}:queue:batch`,
        entries: `${tag}:entries`,
        aside: `${tag}:entries:aside`,
        arrivals: `${tag}:arrivals`,
        turns: `${tag}:turns`,
        capacity: `${tag}:capacity`,
        busy: `${tag}:busy`,
        running: `${tag}:running`,
        wake: `${tag}:wake`,
      };
    },
    quota: (subject) => `${prefix}{quota:${subject}}`,
    idempotency: (key) => `${prefix}{idem:${key}}`,
    unansweredTaskIds: (replicaId) => `${prefix}{idem}:unanswered:${replicaId}`,
    owner: (taskId) => `${prefix}{task:${taskId}}:owner`,
    spec: (taskId) => `${prefix}{task:${taskId}}:spec`,
    committed: (taskId) => `${prefix}{task:${taskId}}:committed`,
    commitVerdict: (taskId) => `${prefix}{task:${taskId}}:committed:verdict`,
    streamOpened: (taskId) => `${prefix}{task:${taskId}}:opened`,
    readers: (taskId) => `${prefix}{task:${taskId}}:readers`,
    readersGone: (replicaId) => `${prefix}readers-gone:${replicaId}`,
    followedTasks: (replicaId) => `${prefix}{readers}:followed:${replicaId}`,
    session: (sessionId) => `${prefix}{sessions}:s:${sessionId}`,
    sessions: `${prefix}{sessions}:live`,
    ownedSessions: (owner) => `${prefix}{sessions}:live:owner:${owner}`,
    heldSessions: (replicaId) => `${prefix}{sessions}:live:held:${replicaId}`,
  };
}
