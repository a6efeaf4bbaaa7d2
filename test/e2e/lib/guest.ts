// A guest domain created by `xl create` in dom0, and commands inside it through its XenStore agent
// (image/guest-init.sh, dom0/guest-exec.sh).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shq, type Dom0, type ExecResult } from './dom0.js';

export interface GuestConfig {
  name: string;
  /** The xl `vdispl` device string, e.g. backend=0,be-alloc=0,connectors=id0:800x600 */
  vdispl: string;
  memoryMiB?: number;
  /**
   * 'pv' (default) or 'pvh'. An x86 PV guest's page tables may only point at frames it owns, so its
   * userspace cannot map pages the backend granted (be-alloc); a PVH guest maps grants into its own
   * physical address space, where they are ordinary pages to its kernel.
   */
  type?: 'pv' | 'pvh';
  /** The lab: x86 (default) or arm64, whose guests are always Xen's one Arm guest type, on the lab kernel. */
  arch?: 'x86' | 'arm64';
  /** The xl `vkb` device string (para-virtual input), e.g. backend-type=linux,unique-id=id0 */
  vkb?: string;
}

/** The xl config of a guest: a PV (or PVH) domain running the image's kernel and busybox initramfs. */
export function xlConfig(c: GuestConfig): string {
  if (c.arch === 'arm64') {
    return [
      `name = "${c.name}"`,
      'kernel = "/root/guest/Image"',
      'ramdisk = "/root/guest/initrd.cpio.gz"',
      // the lab kernel has vkms built in for dom0; in the guest it would take card0 from xen-drm-front.
      // loglevel=5: warnings (a WARN's report) reach the console too, the only record the crash scan
      // has of a guest that was destroyed
      'extra = "console=hvc0 loglevel=5 initcall_blacklist=vkms_init"',
      `memory = ${c.memoryMiB ?? 256}`,
      'vcpus = 1',
      'on_crash = "preserve"',
      `vdispl = [ '${c.vdispl}' ]`,
      '',
    ].join('\n');
  }
  return [
    `name = "${c.name}"`,
    `type = "${c.type ?? 'pv'}"`,
    'kernel = "/root/guest/vmlinux"',
    'ramdisk = "/root/guest/initrd.cpio.gz"',
    'extra = "console=hvc0 loglevel=4"',
    `memory = ${c.memoryMiB ?? 256}`,
    'vcpus = 1',
    // A PVH guest runs on the emulated CPU's SVM, which has no next-RIP save: Xen must then decode
    // each intercepted instruction itself and cannot for RDTSCP (the guest died on it). Native TSC
    // mode intercepts neither RDTSC nor RDTSCP, and the guest is told RDTSCP does not exist.
    ...(c.type === 'pvh' ? ['tsc_mode = "native"', 'cpuid = "host,rdtscp=0"'] : []),
    'on_crash = "preserve"',
    `vdispl = [ '${c.vdispl}' ]`,
    ...(c.vkb ? [`vkb = [ '${c.vkb}' ]`] : []),
    '',
  ].join('\n');
}

export class Guest {
  private n = 0;
  private readonly dir: string;

  constructor(
    private readonly dom0: Dom0,
    readonly config: GuestConfig,
  ) {
    this.dir = join(dom0.shareDir, `guest-${config.name}`);
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(join(this.dir, 'xl.cfg'), xlConfig(config));
  }

  get name(): string {
    return this.config.name;
  }

  /** `xl create`; returns xl's result (the caller asserts on it). */
  create(timeoutS = 60): Promise<ExecResult> {
    return this.dom0.exec(`xl create /mnt/share/guest-${this.name}/xl.cfg`, timeoutS);
  }

  async domid(): Promise<number> {
    const out = await this.dom0.run(`xl domid ${shq(this.name)}`, 20);
    return Number(out.trim());
  }

  /** Waits until the guest's agent has published itself in XenStore. */
  async ready(timeoutS = 60): Promise<void> {
    await this.dom0.run(
      `end=$(( $(date +%s) + ${timeoutS} )); ` +
        `until d=$(xl domid ${shq(this.name)} 2>/dev/null) && [ "$(xenstore-read /local/domain/$d/data/e2e/ready 2>/dev/null)" = 1 ]; do ` +
        `[ "$(date +%s)" -ge $end ] && { echo "guest ${this.name}: agent not ready in ${timeoutS}s"; exit 1; }; sleep 0.2; done`,
      timeoutS + 10,
    );
  }

  /** Runs a shell command in the guest; output and status as the guest saw them. */
  exec(cmd: string, timeoutS = 60): Promise<ExecResult> {
    const n = ++this.n;
    const file = join(this.dir, `cmd-${n}.sh`);
    writeFileSync(file, cmd);
    return this.dom0.exec(
      `sh /opt/vdispld/test/e2e/dom0/guest-exec.sh ${shq(this.name)} ${timeoutS} /mnt/share/guest-${this.name}/cmd-${n}.sh`,
      timeoutS + 15,
    );
  }

  async run(cmd: string, timeoutS = 60): Promise<string> {
    const r = await this.exec(cmd, timeoutS);
    if (r.rc !== 0) throw new Error(`guest ${this.name} command failed (exit ${r.rc}): ${cmd}\n${r.out.trimEnd()}`);
    return r.out;
  }

  /** Starts a long-running guest command in the background, its output in /tmp/<tag>.log there. */
  async spawn(tag: string, cmd: string): Promise<void> {
    await this.run(`(${cmd}) > /tmp/${tag}.log 2>&1 < /dev/null & echo $! > /tmp/${tag}.pid`, 20);
  }

  /** The log of a spawn()ed command so far. */
  log(tag: string): Promise<string> {
    return this.run(`cat /tmp/${tag}.log`, 20);
  }

  /** Kills every process of that program in the guest (e.g. modetest) and waits until none is left. */
  async killall(program: string): Promise<void> {
    await this.run(
      `killall ${program} 2>/dev/null; i=0; while pidof ${program} >/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; ! pidof ${program} >/dev/null`,
      20,
    );
  }
}
