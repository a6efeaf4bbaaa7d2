import { mkdirSync } from 'node:fs';
import { buildDaemon } from '../lib/build.js';
const dir = process.argv[2]!;
mkdirSync(dir, { recursive: true });
console.log(await buildDaemon(dir));
