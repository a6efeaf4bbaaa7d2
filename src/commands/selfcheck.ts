// `vdispld selfcheck`: proves the install is whole (native addon loads, compiled against the
// real displif.h) and prints the wire layout it was built with.
import { Option, type Command } from 'commander';
import { native } from '../native/addon.js';

export function register(program: Command): void {
  program
    .command('selfcheck')
    .description('check that the native addon loads and print the displif layout it was compiled with')
    .addOption(new Option('--json', 'print JSON (for scripts)').env('VDISPLD_JSON'))
    .addHelpText(
      'after',
      '\nExamples:\n  vdispld selfcheck                  # after an install: the addon loads\n  vdispld selfcheck --json | jq .constants.XENDISPL_PROTOCOL_VERSION_INT',
    )
    .action((opts: { json?: boolean }) => {
      const layout = native().displifLayout();
      if (opts.json) {
        console.log(JSON.stringify(layout, null, 2));
        return;
      }
      const c = layout.constants;
      console.log(`native addon: ok (page size ${native().pageSize()})`);
      console.log(
        `displif protocol version ${c['XENDISPL_PROTOCOL_VERSION_INT']}, ring slots ${c['RING_SIZE']}, event slots ${c['XENDISPL_IN_RING_LEN']}`,
      );
      for (const [name, s] of Object.entries(layout)) {
        if (name === 'constants' || name === 'strings') continue;
        const st = s as { size: number; fields: Record<string, number> };
        console.log(
          `  ${name.padEnd(28)} ${String(st.size).padStart(4)} B  ${Object.entries(st.fields)
            .map(([f, o]) => `${f}@${o}`)
            .join(' ')}`,
        );
      }
    });
}
