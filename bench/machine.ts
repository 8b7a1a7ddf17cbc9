// The machine a run happened on, stated next to every figure: CPU, cores, memory, Node,
// kernel, the date, and how much CPU other work took while the run went on (a shared box
// skews everything; the load average alone cannot tell our processes from theirs).

import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem, type } from 'node:os';

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  date: string;
  /** 1/5/15-minute load average before the run started. */
  loadAvgStart: number[];
  /** Share of the machine's CPU time used by processes other than this run (0..1); undefined without /proc. */
  otherCpuShare?: number;
}

export interface CpuClock {
  /** Busy CPU ms of the whole machine since boot (all cores). */
  machineBusyMs: number;
  /** CPU ms of this process plus its reaped children (every child a run starts is reaped by its end). */
  ownMs: number;
  /** Wall-clock ms (performance.now()). */
  at: number;
}

/** USER_HZ: 100 ticks per second on every mainstream Linux build. */
const TICK_MS = 10;

/** Reads /proc/stat and /proc/self/stat; undefined where /proc is not there. */
export function readCpuClock(): CpuClock | undefined {
  try {
    const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal …: busy is everything but idle and iowait.
    const busy = cpu.reduce((sum, v, i) => (i === 3 || i === 4 || i > 7 ? sum : sum + v), 0);
    const self = readFileSync('/proc/self/stat', 'utf8');
    const f = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number);
    // utime, stime, cutime, cstime are fields 14–17 (indexes 11–14 after the command name).
    const own = (f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0);
    return { machineBusyMs: busy * TICK_MS, ownMs: own * TICK_MS, at: performance.now() };
  } catch {
    return undefined;
  }
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

/** Other work's share of all CPU time between two clock readings. */
export function otherCpuShare(start: CpuClock, end: CpuClock, cores: number): number {
  const capacity = (end.at - start.at) * cores;
  const other = end.machineBusyMs - start.machineBusyMs - (end.ownMs - start.ownMs);
  return capacity > 0 ? Math.min(1, Math.max(0, other / capacity)) : 0;
}
