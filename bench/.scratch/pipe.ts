import { mkdtempSync } from 'node:fs';
import { buildFloors } from '../lib/build.js';
import { runSide } from '../suites/pipeline.js';
const workDir = mkdtempSync('/tmp/h9try/w-');
const floors = await buildFloors(workDir);
const daemonJs = process.env.DJS!;
const side = (process.env.SIDE ?? 'vdispld') as 'vdispld' | 'floor';
const r = await runSide({
  opts: { rounds: 1, pipelineGuests: 16, pipelineSeconds: 10, rttSamples: { dbufCreate: 1, fbAttach: 1, pgFlip: 1 }, throughputSeconds: 1, ...(process.env.PROF ? { profileDir: process.env.PROF } : {}) },
  daemonJs, floors, workDir, log: (l) => console.error(l),
  daemonNodeArgs: (name) => process.env.PROF ? ['--cpu-prof', '--cpu-prof-interval', '250', '--cpu-prof-dir', process.env.PROF, '--cpu-prof-name', `${name}.cpuprofile`] : [],
}, side, Number(process.env.N ?? 16), Number(process.env.S ?? 10));
const p = (a: number[], q: number) => a.slice().sort((x, y) => x - y)[Math.floor(a.length * q)]; console.log(JSON.stringify({ late: r.late, fps: r.fps, cpu: r.cpuShare, perFlip: r.cpuUsPerFlip, rtt50: p(r.rttUs, 0.5), rtt99: p(r.rttUs, 0.99), lat50: p(r.latencyUs, 0.5), lat99: p(r.latencyUs, 0.99) }));
