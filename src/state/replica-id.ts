// This gateway replica's name in a cluster (issue 15): config state.replica_id, else
// <hostname>-<pid>. The one place the default is made, so leases, task owners, the audit chain
// and metric labels agree on it.

import { hostname } from 'node:os';
import type { StateConfig } from '../config/schema.ts';

const REPLICA_ID_MAX = 64;

/** <hostname>-<pid>, cut to what state.replica_id allows ([A-Za-z0-9._-], 64 characters). */
export function defaultReplicaId(host: string = hostname(), pid: number = process.pid): string {
  const suffix = `-${pid}`;
  const name = host.replaceAll(/[^A-Za-z0-9._-]/g, '_').slice(0, REPLICA_ID_MAX - suffix.length);
  return `${name === '' ? 'gateway' : name}${suffix}`;
}

export function replicaIdOf(state: Pick<StateConfig, 'replica_id'>): string {
  return state.replica_id ?? defaultReplicaId();
}
