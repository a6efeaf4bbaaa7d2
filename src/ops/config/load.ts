// The settings a daemon starts with from local sources. A wrong value in any of them stops the
// start with one line naming the source and the key (exit 2); an unknown key in the file is only
// warned about, so a file written for a newer vdispld still works.
import { envEntries, unknownEnvNames } from './env.js';
import { DEFAULT_CONFIG_FILE, readConfigFile } from './file.js';
import { buildLayer, describeProblem, type Layer, type RawEntry } from './layer.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LocalConfigInput {
  /** Entries the operator typed on the command line. */
  readonly cli: readonly RawEntry[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The file the operator named; undefined reads the default path if it exists. */
  readonly configFile?: string;
  /** Override of the default path (tests). */
  readonly defaultConfigFile?: string;
  /** VDISPLD_* variables the commands' own options read (not settings, but not unknown either). */
  readonly knownEnv?: ReadonlySet<string>;
}

export interface LocalConfig {
  readonly layers: readonly Layer[];
  /** Where the file layer came from, or undefined without one. */
  readonly file: string | undefined;
  /** Unknown keys (file) and variables (environment): to be logged once, at warn, when the logger exists. */
  readonly warnings: readonly string[];
}

export function loadLocalConfig(input: LocalConfigInput): LocalConfig {
  const layers: Layer[] = [];
  const warnings: string[] = [];
  const path = input.configFile ?? input.defaultConfigFile ?? DEFAULT_CONFIG_FILE;
  let fileEntries: RawEntry[] | undefined;
  let envList: RawEntry[];
  try {
    fileEntries = readConfigFile(path, input.configFile !== undefined);
    envList = envEntries(input.env);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const add = (name: 'file' | 'env' | 'cli', entries: readonly RawEntry[], where: string): void => {
    const { layer, problems } = buildLayer(name, entries);
    for (const p of problems) {
      if (p.kind === 'unknown' && name === 'file') warnings.push(describeProblem(p, where));
      else throw new ConfigError(describeProblem(p, where));
    }
    layers.push(layer);
  };
  if (fileEntries) add('file', fileEntries, path);
  add('env', envList, 'environment');
  for (const name of unknownEnvNames(input.env, input.knownEnv ?? new Set())) {
    warnings.push(`environment: unknown variable ${name} ignored (see docs/OPERATIONS.md for the settings)`);
  }
  add('cli', input.cli, 'command line');
  return { layers, file: fileEntries ? path : undefined, warnings };
}
