// The one-request CLI commands: status, cancel, session get|delete, pools, drain, reload,
// audit verify|head. Each calls one client method and prints the answer; refusals propagate as
// ApiError and become exit codes in main.ts.

import { intOption, type Command } from './command.ts';
import { EXIT } from './exit-codes.ts';
import { printAuditVerification, printModels, printPool, printPools, printResult } from './output.ts';

const arg = (positionals: string[], i: number): string => positionals[i] ?? '';

export const status: Command = {
  name: 'status',
  args: '<task_id>',
  summary: 'Show a task: state, queue position, timestamps, tokens, replica, finish reason or error.',
  options: {},
  positionals: ['task_id'],
  run: async ({ client, out, positionals }) => {
    printResult(out, await client.status(arg(positionals, 0)));
    return EXIT.OK;
  },
};

export const cancel: Command = {
  name: 'cancel',
  args: '<task_id>',
  summary: 'Cancel a queued or running task (idempotent).',
  details: 'Prints the task state and whether it ended as canceled; a task that had already finished\notherwise reports canceled: false with its final state (exit 0).',
  options: {},
  positionals: ['task_id'],
  run: async ({ client, out, positionals }) => {
    printResult(out, await client.cancel(arg(positionals, 0)));
    return EXIT.OK;
  },
};

export const sessionGet: Command = {
  name: 'session get',
  args: '<session_id>',
  summary: 'Show a session: remaining TTL, turns, turn cap, KV warmth and budgets.',
  options: {},
  positionals: ['session_id'],
  run: async ({ client, out, positionals }) => {
    printResult(out, await client.getSession(arg(positionals, 0)));
    return EXIT.OK;
  },
};

export const sessionDelete: Command = {
  name: 'session delete',
  args: '<session_id>',
  summary: 'Forget a session at once (its admitted tasks keep running).',
  options: {},
  positionals: ['session_id'],
  run: async ({ client, out, positionals }) => {
    const id = arg(positionals, 0);
    await client.deleteSession(id);
    if (out.json) printResult(out, { session_id: id, deleted: true });
    else out.write(`session ${id} deleted\n`);
    return EXIT.OK;
  },
};

export const pools: Command = {
  name: 'pools',
  args: '[<pool_id>]',
  summary: 'List pools (engine, model, readiness, slots, queue), or show one pool with its replicas.',
  options: {},
  positionals: [],
  maxPositionals: 1,
  run: async ({ client, out, positionals }) => {
    const id = positionals[0];
    if (id === undefined) printPools(out, await client.listPools());
    else printPool(out, await client.getPool(id));
    return EXIT.OK;
  },
};

export const models: Command = {
  name: 'models',
  args: '',
  summary: 'List the model catalog: served pool models and aliases, catalog entries, listed models.',
  details: 'Calls GET /v1/models. With --json prints the merged catalog as {"models": [...]}, one object per\nmodel with its id and catalog fields (source, served, pool_id, context_length, pricing, ...).',
  options: {},
  positionals: [],
  run: async ({ client, out }) => {
    printModels(out, await client.listModels());
    return EXIT.OK;
  },
};

export const drain: Command = {
  name: 'drain',
  args: '<pool_id>',
  summary: 'Drain a pool: stop new leases now, end what still runs when the deadline passes.',
  details: 'New tasks for the pool are refused with 503 DRAINING. Draining again moves the deadline;\na reload ends the drain.',
  options: { 'deadline-ms': { type: 'string', value: 'ms', description: 'how long running work may continue (default 30000; 0 ends it at once)' } },
  positionals: ['pool_id'],
  run: async (ctx) => {
    const deadlineMs = intOption(ctx, 'deadline-ms', drain) ?? 30_000;
    printResult(ctx.out, await ctx.client.drainPool(arg(ctx.positionals, 0), deadlineMs));
    return EXIT.OK;
  },
};

export const reload: Command = {
  name: 'reload',
  args: '[<pool_id>]',
  summary: "Reload one pool's replicas (atomic, rolled back on failure), or without a pool the whole configuration file.",
  details: 'With <pool_id>: POST /v1/pools/{pool_id}/reload. Without: POST /v1/config/reload (the same as\nsending SIGHUP to the gateway); an invalid file is refused and the running configuration stays.',
  options: {},
  positionals: [],
  maxPositionals: 1,
  run: async ({ client, out, positionals }) => {
    const id = positionals[0];
    if (id === undefined) printResult(out, await client.reloadConfig());
    else printPool(out, await client.reloadPool(id));
    return EXIT.OK;
  },
};

export const auditVerify: Command = {
  name: 'audit verify',
  args: '',
  summary: "Walk every hash chain of the audit log on the gateway and report the first broken row.",
  details: 'Calls POST /v1/audit/verify. The log has one chain per writer (main for a single gateway, one\nper replica on a shared database); a table lists each chain with its rows and head, or its first\nbroken row and why. Exit 0 when every chain verifies (keep each head_seq and head_hash where the\ndatabase owner cannot write), 9 when one is broken (the answer names the chain, first_bad_seq and\nthe reason). A gateway with audit off answers 404 (exit 4).',
  options: {},
  positionals: [],
  run: async ({ client, out }) => {
    const result = await client.auditVerify();
    printAuditVerification(out, result);
    return result.ok ? EXIT.OK : EXIT.AUDIT_BROKEN;
  },
};

export const auditHead: Command = {
  name: 'audit head',
  args: '',
  summary: "Print the audit chain's head (head_seq, head_hash) for an external witness.",
  details: 'Calls GET /v1/audit/head. Record the pair at a regular interval somewhere the database owner\ncannot write; a later `orchqueue audit verify` must still find that row with that hash.\nA gateway with audit off answers 404 (exit 4).',
  options: {},
  positionals: [],
  run: async ({ client, out }) => {
    printResult(out, await client.auditHead());
    return EXIT.OK;
  },
};
