import { basename, delimiter, dirname, isAbsolute, relative } from 'node:path';

/**
 * How the user ran the CLI, so every hint shows a command they can paste: `npx drover` (npx or
 * npm exec), `npm run drover --` (the package script), `drover` (on PATH: npm link, npm install
 * -g, the Docker image), or the path they ran (`./bin/drover.js`).
 */
export function invokedAs(
  env: NodeJS.ProcessEnv = process.env,
  script: string = process.argv[1] ?? '',
  cwd: string = process.cwd(),
): string {
  const file = basename(script);
  if (env.npm_command === 'exec' && file === 'drover') return 'npx drover';
  if (env.npm_lifecycle_event === 'drover') return 'npm run drover --';
  if (file === 'drover' && (env.PATH ?? '').split(delimiter).includes(dirname(script))) return 'drover';
  if (file === 'drover.js' && isAbsolute(script)) {
    const rel = relative(cwd, script);
    return rel.startsWith('..') ? script : `./${rel}`;
  }
  return 'drover';
}

let program = 'drover';

/** Set once at start (cli/main.ts); hints read it through `prog()`. */
export function setProgram(name: string): void {
  program = name;
}

export function prog(): string {
  return program;
}

/**
 * `text` with each command line's `drover` replaced by the program as invoked: `drover status
 * ID`, `(see \`drover help submit\`)`, `drover --help`. `drover: error:` prefixes and the name
 * Drover stay.
 */
export function withProgram(text: string, name: string = program): string {
  if (name === 'drover') return text;
  return text.replace(/(^|[\s`(;&|])drover(?= (?:[a-z<]|--?[a-z]))/gm, `$1${name}`);
}
