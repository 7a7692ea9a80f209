/**
 * Noise on the machine during a load run: CPU time stolen by the hypervisor and CPU time used
 * by processes other than the bench's own (its server and load generator), from /proc/stat and
 * /proc/<pid>/stat. A run with too much of either is contaminated: the bench repeats it.
 * @module
 */
import { readFileSync } from "node:fs";

/** More than this share of one core stolen by the hypervisor makes a run contaminated. */
export const MAX_STEAL = 0.05;
/** More than this share of one core used by other processes makes a run contaminated. */
export const MAX_OTHERS = 0.1;

/** CPU counters at one instant, in clock ticks. */
export interface CpuSample {
  /** user + nice + system of every CPU */
  busy: number;
  steal: number;
  /** user + system of the bench's own processes (live ones, and children it has reaped) */
  ours: number;
  at: number;
}

/** What a run shared its machine with, as shares of one core over the run. */
export interface Noise {
  steal: number;
  others: number;
  /** Whether either exceeded its limit. */
  noisy: boolean;
}

const TICKS_PER_S = 100; // USER_HZ, 100 on Linux

function procTimes(pid: number | "self"): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): state is field 3.
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const [utime, stime, cutime, cstime] = [f[11], f[12], f[13], f[14]].map(Number);
    return pid === "self" ? utime! + stime! + cutime! + cstime! : utime! + stime!;
  } catch {
    return 0;
  }
}

/**
 * Samples the machine and the bench's own processes (`self` with its reaped children, and the
 * given live pids).
 * @returns the sample, or undefined where /proc is not available.
 */
export function sampleCpu(pids: readonly number[]): CpuSample | undefined {
  let line: string;
  try {
    line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
  } catch {
    return undefined;
  }
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , , , steal] = v;
  let ours = procTimes("self");
  for (const pid of pids) ours += procTimes(pid);
  return { busy: user! + nice! + system!, steal: steal ?? 0, ours, at: performance.now() };
}

/**
 * The noise between two samples (pids sampled the same way both times).
 * @returns shares of one core; all zero when either sample is missing.
 */
export function noiseBetween(a: CpuSample | undefined, b: CpuSample | undefined): Noise {
  if (a === undefined || b === undefined) return { steal: 0, others: 0, noisy: false };
  const seconds = (b.at - a.at) / 1000;
  if (seconds <= 0) return { steal: 0, others: 0, noisy: false };
  const share = (ticks: number) => Math.max(0, ticks) / TICKS_PER_S / seconds;
  const steal = share(b.steal - a.steal);
  const others = share(b.busy - a.busy - (b.ours - a.ours));
  return { steal, others, noisy: steal > MAX_STEAL || others > MAX_OTHERS };
}
