#!/usr/bin/env node
// Executable entry point; everything else is importable without side effects.
import { main } from './cli.js';
import { endQuietlyWhenReaderGoes } from './commands/reader-gone.js';

endQuietlyWhenReaderGoes();
main(process.argv).catch((err: unknown) => {
  console.error(`vdispld: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
