// One emulated Xen machine: QEMU (TCG) running Xen 4.17 with the Debian dom0, its serial console,
// its QMP socket and its 9p shares. A Machine owns the QEMU process; close() ends it, idempotently.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Arm64Lab } from './arm64-image.js';
import type { Image } from './image.js';
import { Qmp } from './qmp.js';
import { SerialConsole } from './serial.js';

/**
 * -smap,-smep: TCG's SMAP/SMEP and Xen's PV guest kernels disagree, dom0 dies at its first instructions.
 * -xsave,-avx,-avx2,-pku,-mpx: with them (Xen then context-switches x87/SSE/AVX/MPX/PKRU state with
 * XSAVE), processes in dom0 and in the guest crashed at random on a loaded host (a corrupted return
 * address in dash, a NULL list pointer in glibc after fork); FXSAVE-only state is what we trust.
 */
export const DEFAULT_CPU = 'max,-smap,-smep,-xsave,-avx,-avx2,-pku,-mpx';

export interface MachineOptions {
  /** The x86 lab's image, or the Arm64 lab's files. */
  image: Image | Arm64Lab;
  /** Where the serial log, QEMU's stderr and the sockets go. */
  runDir: string;
  /** 9p exports: tag -> [host directory, read-only?]. dom0's init mounts share, repo and node. */
  shares: Record<string, { path: string; readonly: boolean }>;
  /** QEMU -cpu; default DEFAULT_CPU or $VDISPLD_E2E_CPU. */
  cpu?: string;
  memMiB?: number;
  echo?: boolean;
  tcgThreads?: 'single' | 'multi';
  /** More Xen command-line options (x86), e.g. a smaller grant-mapping table for a scenario. */
  xenArgs?: string[];
  /** More dom0 kernel command-line options (Arm64), e.g. vkms.enable_overlay=1 (no commas). */
  dom0Args?: string[];
}

export class Machine {
  /** Every machine not yet closed, so that an interrupted run can end its QEMUs. */
  static readonly live = new Set<Machine>();
  private closed = false;
  readonly exited: Promise<number | null>;

  private constructor(
    private readonly proc: ChildProcess,
    readonly console: SerialConsole,
    private readonly qmp: Qmp,
  ) {
    this.exited = new Promise((resolve) => {
      if (proc.exitCode !== null) resolve(proc.exitCode);
      else proc.once('exit', (code) => resolve(code));
    });
  }

  static async start(o: MachineOptions): Promise<Machine> {
    mkdirSync(o.runDir, { recursive: true });
    const serialSock = join(o.runDir, 'serial.sock');
    const qmpSock = join(o.runDir, 'qmp.sock');
    rmSync(serialSock, { force: true });
    rmSync(qmpSock, { force: true });
    const args = 'kind' in o.image ? arm64Args(o, o.image) : x86Args(o, o.image);
    args.push(
      '-chardev',
      `socket,id=ser0,path=${serialSock},server=on,wait=on`,
      '-serial',
      'chardev:ser0',
      '-qmp',
      `unix:${qmpSock},server=on,wait=off`,
    );
    const qemu = 'kind' in o.image ? 'qemu-system-aarch64' : 'qemu-system-x86_64';
    const stderr = createWriteStream(join(o.runDir, 'qemu.log'));
    stderr.write(`${qemu} ${args.join(' ')}\n`);
    const t0 = performance.now();
    const proc = spawn(qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.pipe(stderr, { end: false });
    proc.stderr.pipe(stderr, { end: false });
    proc.once('exit', () => stderr.end());
    try {
      const console = await SerialConsole.open(serialSock, join(o.runDir, 'serial.log'), t0, o.echo ?? false);
      const qmp = await Qmp.open(qmpSock);
      const m = new Machine(proc, console, qmp);
      Machine.live.add(m);
      return m;
    } catch (e) {
      proc.kill('SIGKILL');
      throw e;
    }
  }

  /** dom0's display as QEMU shows it, written as a binary PPM. */
  async screendump(ppmPath: string): Promise<void> {
    await this.qmp.execute('screendump', { filename: ppmPath });
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /**
   * Waits up to graceMs for the machine to power itself off (dom0 does after its agent ends), then
   * asks QEMU to quit, then kills it.
   */
  /** Synchronous last resort for process exit paths. */
  kill(): void {
    if (this.running) this.proc.kill('SIGKILL');
  }

  async close(graceMs = 0): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Machine.live.delete(this);
    const within = (ms: number): Promise<boolean> =>
      Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    if (this.running && !(await within(graceMs))) {
      await this.qmp.execute('quit').catch(() => undefined);
      if (!(await within(10_000))) {
        this.proc.kill('SIGKILL');
        await this.exited;
      }
    }
    this.qmp.close();
    await this.console.close();
  }
}

/** Xen 4.17 x86 (multiboot) with Debian's dom0 on a virtio disk, QEMU's standard VGA as the display. */
function x86Args(o: MachineOptions, image: Image): string[] {
  const xenCmd = [
    'console=com1 com1=115200,8n1',
    'dom0_mem=1024M,max:1024M dom0_max_vcpus=2',
    'loglvl=all guest_loglvl=all',
    ...(o.xenArgs ?? []),
  ].join(' ');
  const dom0Cmd = 'console=hvc0 earlyprintk=xen root=/dev/vda rw loglevel=5';
  // Multiboot modules are "file args" separated by commas, so commas inside args are doubled.
  const modules = `${image.vmlinuz} ${dom0Cmd.replaceAll(',', ',,')},${image.dom0Initrd}`;
  const args = [
    '-machine',
    'pc',
    // Single-threaded TCG: with thread=multi, under a loaded host, guests saw memory that fork's
    // copy-on-write had not given them (static busybox crashing in glibc's post-fork stack list,
    // same address every time). One host thread for both emulated CPUs also leaves the second host
    // core to everyone else.
    '-accel',
    `tcg,thread=${o.tcgThreads ?? 'single'},tb-size=512`,
    '-cpu',
    o.cpu ?? process.env.VDISPLD_E2E_CPU ?? DEFAULT_CPU,
    '-smp',
    '2',
    '-m',
    String(o.memMiB ?? 2048),
    '-kernel',
    image.xen,
    '-append',
    xenCmd,
    '-initrd',
    modules,
    // snapshot=on: every boot starts from the pristine image; writes go to a temporary file
    '-drive',
    `file=${image.dom0Disk},format=raw,if=virtio,snapshot=on`,
    '-vga',
    'std',
    '-display',
    'none',
    '-no-reboot',
    '-net',
    'none',
  ];
  for (const [tag, s] of Object.entries(o.shares)) {
    args.push(
      '-virtfs',
      `local,path=${s.path},mount_tag=${tag},security_model=none,id=${tag}${s.readonly ? ',readonly=on' : ''}`,
    );
  }
  return args;
}

/**
 * Xen 4.17 for Arm64 on QEMU's virt board (EL2 for Xen, GICv3), dom0's kernel and initramfs loaded by
 * QEMU's guest-loader device, which also describes them to Xen in the device tree. No disk: dom0 runs
 * from its initramfs, and the shares are virtio-9p on virtio-mmio (the lab kernel has no PCI).
 * Xen finds its console through the device tree's stdout-path (the board's DT has no serial0 alias,
 * so dtuart= is left out); -nic none, or QEMU looks for a network boot ROM it does not ship here.
 */
function arm64Args(o: MachineOptions, lab: Arm64Lab): string[] {
  // (QEMU's option syntax: a comma would end bootargs; none of the lab's options has one)
  const dom0Cmd = ['console=hvc0 earlycon=xenboot rdinit=/init loglevel=5', ...(o.dom0Args ?? [])].join(' ');
  const args = [
    '-machine',
    'virt,virtualization=on,gic-version=3',
    '-accel',
    `tcg,thread=${o.tcgThreads ?? 'multi'},tb-size=512`,
    '-cpu',
    o.cpu ?? process.env.VDISPLD_E2E_CPU ?? 'cortex-a57',
    '-smp',
    '2',
    '-m',
    String(o.memMiB ?? 2048),
    '-kernel',
    lab.xen,
    '-append',
    'dom0_mem=1024M dom0_max_vcpus=2 loglvl=all guest_loglvl=all',
    '-device',
    `guest-loader,addr=0x49000000,kernel=${lab.kernel},bootargs=${dom0Cmd}`,
    '-device',
    `guest-loader,addr=0x50000000,initrd=${lab.dom0Initrd}`,
    '-display',
    'none',
    '-no-reboot',
    '-nic',
    'none',
  ];
  for (const [tag, s] of Object.entries(o.shares)) {
    args.push('-fsdev', `local,id=fs-${tag},path=${s.path},security_model=none${s.readonly ? ',readonly=on' : ''}`);
    args.push('-device', `virtio-9p-device,fsdev=fs-${tag},mount_tag=${tag}`);
  }
  return args;
}
