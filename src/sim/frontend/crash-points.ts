// Fault injection for the faults campaign: the guest's kernel dies (SIGKILL, no clean-up of any
// kind) at an exact step of the XenBus handshake or of a request, so a test can prove the backend
// recovers from a frontend lost at every step. Unarmed, a crash point costs one comparison.
import type { CrashPlan, CrashStep } from './protocol.js';

let plan: CrashPlan | undefined;
let seen = 0;

export function armCrash(p: CrashPlan | undefined): void {
  plan = p;
  seen = 0;
}

/** The guest reached `step` (for request steps, with operation `op`): die here if the plan says so. */
export function crashPoint(step: CrashStep, op?: number): void {
  if (plan === undefined || plan.step !== step) return;
  if (plan.op !== undefined && plan.op !== op) return;
  if (++seen < (plan.nth ?? 1)) return;
  process.kill(process.pid, 'SIGKILL');
}
