// The machine a run happened on, stated next to every figure: CPU, cores, memory, Node,
// kernel, the date, and the load average (other work on a shared box skews everything).

import { availableParallelism, cpus, loadavg, release, totalmem, type } from 'node:os';

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  date: string;
  loadAvgStart: number[];
  loadAvgEnd?: number[];
}

export function describeMachine(now = new Date()): Machine {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${type()} ${release()}`,
    date: now.toISOString(),
    loadAvgStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function finishMachine(machine: Machine): Machine {
  return { ...machine, loadAvgEnd: loadavg().map((x) => Math.round(x * 100) / 100) };
}
