// Child processes of a bench run: the engine simulator, the pass-through proxy and gateways,
// each in its own process on loopback. Owns spawning, readiness, CPU accounting from /proc and
// stopping every child it started (SIGTERM, then SIGKILL after a bounded wait).

import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Child {
  readonly name: string;
  readonly pid: number;
  /** Last stderr/stdout lines, for error messages. */
  tail(): string;
  readonly exited: Promise<number | null>;
  /** With --profile: where this child's V8 CPU profiles go. */
  readonly profileDir?: string;
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 5_000;

/** Environment for children: the runner's own, minus anything that would change a gateway's config behind our back. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key === 'DATABASE_URL' || key === 'ORCHQUEUE_CONFIG' || key === 'LOG_LEVEL' || key === 'HOST' || key === 'PORT' || key.startsWith('OTEL_')) delete env[key];
  }
  return { ...env, ...extra };
}

/** V8's sampling interval for --profile: coarse enough to cost the hops nothing measurable, fine enough for a top 15. */
export const PROFILE_INTERVAL_US = 2_000;

export class ProcessGroup {
  private readonly children = new Set<Child>();
  private profiling: { dir: string; label: string } | undefined;

  /**
   * With --profile: children spawned with `profile: true` from now on write V8 CPU profiles, one
   * file per thread (main thread and workers, e.g. PGlite's), to `<dir>/<label>.<child name>/`.
   */
  profileInto(dir: string | undefined, label: string): void {
    this.profiling = dir === undefined ? undefined : { dir, label };
  }

  /** Spawns `node <script> ...args`; keeps the last output lines for diagnostics. */
  spawnNode(
    name: string,
    script: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv = cleanEnv(),
    opts: { profile?: boolean; nodeArgs?: readonly string[] } = {},
  ): { child: Child; stdoutLine: () => Promise<string> } {
    const profileDir = opts.profile && this.profiling ? join(this.profiling.dir, `${this.profiling.label}.${name}`) : undefined;
    // Through NODE_OPTIONS, not argv: worker threads started with `execArgv: []` (PGlite's) are profiled too.
    const profiling = profileDir ? `--cpu-prof --cpu-prof-dir=${profileDir} --cpu-prof-interval=${PROFILE_INTERVAL_US}` : undefined;
    const childEnv = profiling ? { ...env, NODE_OPTIONS: [env.NODE_OPTIONS, profiling].filter(Boolean).join(' ') } : env;
    // nodeArgs: flags NODE_OPTIONS refuses (some V8 heap sizes), before the script.
    const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv });
    const lines: string[] = [];
    const keep = (text: string) => {
      for (const line of text.split('\n')) if (line.trim()) lines.push(line.slice(0, 400));
      if (lines.length > 20) lines.splice(0, lines.length - 20);
    };
    let firstLine: ((line: string) => void) | undefined;
    let stdoutBuffer = '';
    proc.stdout?.setEncoding('utf8').on('data', (text: string) => {
      keep(text);
      stdoutBuffer += text;
      const nl = stdoutBuffer.indexOf('\n');
      if (nl !== -1 && firstLine) {
        firstLine(stdoutBuffer.slice(0, nl));
        firstLine = undefined;
      }
    });
    proc.stderr?.setEncoding('utf8').on('data', keep);
    const exited = once(proc, 'exit').then(([code]) => code as number | null);
    const child: Child = {
      name,
      pid: proc.pid ?? -1,
      tail: () => lines.join('\n'),
      exited,
      ...(profileDir ? { profileDir } : {}),
      stop: () => this.stopChild(proc, child),
    };
    this.children.add(child);
    const stdoutLine = () =>
      new Promise<string>((resolve, reject) => {
        firstLine = resolve;
        void exited.then((code) => reject(new Error(`${name} exited (code ${code}) before it was ready:\n${child.tail()}`)));
      });
    return { child, stdoutLine };
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => c.stop()));
  }

  private async stopChild(proc: ChildProcess, child: Child): Promise<void> {
    if (!this.children.delete(child)) return;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timedOut = await Promise.race([child.exited.then(() => false), sleep(STOP_GRACE_MS, true, { ref: false })]);
    if (timedOut) {
      proc.kill('SIGKILL');
      await child.exited;
    }
  }
}

/** The file beside a child's profiles that says when it was ready (see markReady). */
export const READY_FILE = 'ready.json';

/**
 * Notes, beside a profiled child's profiles, the moment it answered ready (CLOCK_MONOTONIC µs,
 * the clock of V8's profile timestamps), so summaries can leave start-up out.
 */
export async function markReady(child: Child): Promise<void> {
  if (child.profileDir === undefined) return;
  await mkdir(child.profileDir, { recursive: true });
  await writeFile(join(child.profileDir, READY_FILE), JSON.stringify({ readyAtUs: Number(process.hrtime.bigint() / 1000n) }));
}

/** Waits for a child's `{"url": ...}` line, bounded in time. */
export async function readUrlLine(name: string, line: Promise<string>, timeoutMs = 15_000): Promise<string> {
  const late = Symbol('late');
  const text = await Promise.race([line, sleep(timeoutMs, late, { ref: false })]);
  if (text === late) throw new Error(`${name} printed no {"url"} line within ${timeoutMs} ms`);
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { url?: unknown }).url !== 'string') {
    throw new Error(`${name} printed ${text}, expected {"url": ...}`);
  }
  return (parsed as { url: string }).url;
}

/** A loopback port that was free a moment ago (for children that cannot report port 0 back). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** CPU time (user + system, all threads) of processes, read from /proc; the runner uses process.cpuUsage(). */
export class CpuMeter {
  private readonly ticksPerS: number;

  constructor() {
    let ticks = 100;
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      // getconf missing: Linux's USER_HZ is 100 on every mainstream build.
    }
    this.ticksPerS = ticks;
  }

  /** CPU milliseconds used so far by `pid` (0 when /proc is unavailable), or by this process when pid is "self". */
  cpuMs(pid: number | 'self'): number {
    if (pid === 'self') {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    }
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / this.ticksPerS;
    } catch {
      return 0;
    }
  }

  snapshot(pids: Record<string, number | 'self'>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(pids)) out[name] = this.cpuMs(pid);
    return out;
  }
}

/** Resident memory of a process in MiB from /proc (NaN when unavailable). */
export function rssMiB(pid: number): number {
  try {
    const kib = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? Number.NaN : Math.round(Number(kib) / 1024);
  } catch {
    return Number.NaN;
  }
}

export interface Memory {
  /** Resident set now (VmRSS). */
  rssKiB: number;
  /** The highest resident set since the process started (VmHWM): the peak, wherever it fell between samples. */
  peakKiB: number;
}

/** Resident memory now and at its peak, from /proc/<pid>/status (NaN when unavailable). */
export function memoryOf(pid: number): Memory {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // The process is gone or there is no /proc: both figures NaN.
  }
  const field = (name: string) => {
    const kib = new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1];
    return kib === undefined ? Number.NaN : Number(kib);
  };
  return { rssKiB: field('VmRSS'), peakKiB: field('VmHWM') };
}

/**
 * Resets a process's VmHWM to its current RSS (`5` to /proc/<pid>/clear_refs, Linux ≥ 4.0), so a
 * later reading is the peak since now — e.g. under load, without the start-up peak. False when
 * it could not (no /proc, no permission): a later VmHWM then still includes the start-up.
 */
export async function resetPeak(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Resident memory of a process in KiB from /proc (NaN when unavailable): the soak samples it. */
export function rssKiB(pid: number): number {
  try {
    const kib = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? Number.NaN : Number(kib);
  } catch {
    return Number.NaN;
  }
}

/** Open file descriptors of a process: the entries of /proc/<pid>/fd (NaN when unavailable). */
export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}
