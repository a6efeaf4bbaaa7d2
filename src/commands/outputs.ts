// `vdispld outputs`: the DRM cards of this machine, their connectors (by the kernel's names, which
// is what --connector maps guests to), modes, and what each card can do for guests (atomic, PRIME
// import for zero-copy, dumb buffers for the copy path). Read-only: nothing is modeset.
import { Option, type Command } from 'commander';
import { cardArgument } from './card-argument.js';
import { describeCaps, defaultCardDeps, listCards, probeCard, type CardDeps, type CardInfo } from '../drm/kms/card.js';
import { describeMode, isPreferred, refreshMilliHz } from '../drm/kms/modes.js';

export interface OutputsReport {
  readonly cards: readonly CardReport[];
}

export type CardReport =
  | {
      readonly path: string;
      readonly driver: string;
      readonly caps: CardInfo['caps'];
      readonly connectors: readonly ConnectorReport[];
    }
  | { readonly path: string; readonly error: string };

export interface ConnectorReport {
  readonly name: string;
  readonly connection: string;
  readonly mmWidth: number;
  readonly mmHeight: number;
  /** The CRTC lighting it now, 0 when none. */
  readonly crtcId: number;
  readonly modes: readonly {
    width: number;
    height: number;
    refreshMilliHz: number;
    preferred: boolean;
    name: string;
  }[];
}

export function collectOutputs(card: string, deps: CardDeps = defaultCardDeps(), dir = '/dev/dri'): OutputsReport {
  const paths = card === 'auto' ? listCards(dir, deps) : [card];
  if (paths.length === 0)
    throw new Error(`no DRM card in ${dir}: load the display's KMS driver, or use --output headless`);
  const cards: CardReport[] = [];
  for (const path of paths) {
    let dev;
    try {
      dev = deps.open(path);
    } catch (err) {
      if (card !== 'auto') throw err;
      cards.push({ path, error: err instanceof Error ? err.message : String(err) });
      continue;
    }
    try {
      const info = probeCard(dev, { atomic: true });
      const res = info.resources;
      cards.push({
        path,
        driver: info.driver.name,
        caps: info.caps,
        connectors: res.connectors.map((c) => ({
          name: c.name,
          connection: c.connection,
          mmWidth: c.mmWidth,
          mmHeight: c.mmHeight,
          crtcId: res.encoders.find((e) => e.id === c.encoderId)?.crtcId ?? 0,
          modes: c.modes.map((m) => ({
            width: m.hdisplay,
            height: m.vdisplay,
            refreshMilliHz: refreshMilliHz(m),
            preferred: isPreferred(m),
            name: describeMode(m),
          })),
        })),
      });
    } catch (err) {
      if (card !== 'auto') throw err;
      cards.push({ path, error: err instanceof Error ? err.message : String(err) });
    } finally {
      dev.close();
    }
  }
  return { cards };
}

export function formatOutputs(r: OutputsReport): string {
  const lines: string[] = [];
  for (const c of r.cards) {
    if ('error' in c) {
      lines.push(`${c.path}: not usable: ${c.error}`);
      continue;
    }
    lines.push(`${c.path} (${c.driver}): ${describeCaps(c.caps)}`);
    if (c.connectors.length === 0) lines.push('  no connectors');
    for (const k of c.connectors) {
      const modes = k.modes.map((m) => `${m.name}${m.preferred ? '*' : ''}`);
      const shown = modes.length > 8 ? [...modes.slice(0, 8), `… ${modes.length - 8} more`] : modes;
      const crtc = k.crtcId !== 0 ? ` (lit by CRTC ${k.crtcId})` : '';
      lines.push(`  ${k.name.padEnd(12)} ${k.connection.padEnd(12)} ${shown.join(' ') || 'no modes'}${crtc}`);
    }
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('outputs')
    .description('list the DRM connectors (names for --connector), their modes and what each card can do')
    .addOption(
      new Option('--card <path>', "a DRM card such as /dev/dri/card0, or 'auto' for every card")
        .env('VDISPLD_CARD')
        .default('auto')
        .argParser(cardArgument(true)),
    )
    .addOption(new Option('--json', 'print JSON (for scripts)').env('VDISPLD_JSON'))
    .addHelpText(
      'after',
      `
Read-only: nothing is modeset, so it can run beside the daemon. The names it prints are what
--connector GUEST/UNIQUE_ID=NAME and connectors.<guest>/<unique-id> map guest connectors to.

Examples:
  vdispld outputs
  vdispld outputs --card /dev/dri/card1
  vdispld outputs --json | jq -r '.cards[].connectors[]? | select(.connection == "connected") | .name'`,
    )
    .action((opts: { card: string; json?: boolean }) => {
      const report = collectOutputs(opts.card);
      if (opts.json) console.log(JSON.stringify(report, null, 2));
      else console.log(formatOutputs(report));
    });
}
