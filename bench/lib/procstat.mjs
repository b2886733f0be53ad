// SPDX-License-Identifier: LGPL-2.1-or-later
// /proc sampling: CPU ticks and memory of a process and all its descendants, and of the machine.
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function stat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    // utime + stime + cutime + cstime: children that exited and were reaped stay counted.
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) };
  } catch {
    return null;
  }
}

function kb(pid, file, key) {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function descendants(root) {
  const kids = new Map();
  for (const d of readdirSync('/proc')) {
    if (d.charCodeAt(0) > 57) continue;
    const s = stat(d);
    if (!s) continue;
    if (!kids.has(s.ppid)) kids.set(s.ppid, []);
    kids.get(s.ppid).push(Number(d));
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const c of kids.get(out[i]) || []) out.push(c);
  return out;
}

// One sample of a process tree (tree=false: the process alone).
export function sampleTree(root, tree = true) {
  const t = performance.timeOrigin + performance.now();
  if (!stat(root)) return null;
  let ticks = 0, rss = 0, pss = 0, procs = 0, threads = 0;
  for (const p of tree ? descendants(root) : [root]) {
    const s = stat(p);
    if (!s) continue;
    procs++;
    ticks += s.ticks;
    let status = '';
    try { status = readFileSync(`/proc/${p}/status`, 'utf8'); } catch { continue; }
    rss += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    threads += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    pss += kb(p, 'smaps_rollup', 'Pss');
  }
  return { t, procs, threads, ticks, rss_kb: rss, pss_kb: pss };
}

// Machine-wide busy and total jiffies (all cores), to show how loaded the machine was.
export function sampleMachine() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = line[3] + line[4];
  const total = line.slice(0, 8).reduce((a, b) => a + b, 0);
  return { t: performance.timeOrigin + performance.now(), busy: total - idle, total };
}

// Mean CPU (% of one core) between two wall times, from a list of samples.
export function cpuPercent(samples, from, to) {
  const a = samples.find((s) => s.t >= from);
  const b = samples.findLast((s) => s.t <= to);
  if (!a || !b || b.t - a.t < 900) return null;
  return (b.ticks - a.ticks) / CLK_TCK / ((b.t - a.t) / 1000) * 100;
}
