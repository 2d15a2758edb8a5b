// The scenarios' shared runner: loads an npm package from the tier's install directory and runs named
// steps in order, printing one line per step ("pass <name>" or "fail <name>: <reason>").
import { createRequire } from 'node:module';
import path from 'node:path';

/** The npm package `name` from LEANORM_JS_MODULES (the directory holding node_modules). */
export function load(name) {
  const require = createRequire(path.join(process.env.LEANORM_JS_MODULES, 'package.json'));
  return require(name);
}

/** The server the scenario talks to, from the environment the pytest tier sets. */
export const server = {
  url: process.env.LEANORM_URL,
  appId: process.env.LEANORM_APP_ID,
  appKey: process.env.LEANORM_APP_KEY,
  masterKey: process.env.LEANORM_MASTER_KEY,
};

const steps = [];

/** Declare a step (names are unique: the pytest tier makes one test of each). */
export function step(name, run) {
  steps.push([name, run]);
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

export function same(actual, expected, what) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

/** The promise's rejection (its `code`), failing when it resolves. */
export async function refused(promise, what) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error(`${what} was accepted`);
}

/** Run every declared step; a failure is reported and the next step still runs. */
export async function run() {
  for (const [name, body] of steps) {
    try {
      await body();
      console.log(`pass ${name}`);
    } catch (error) {
      const reason = `${error && error.code !== undefined ? `[${error.code}] ` : ''}${error && error.message || error}`;
      console.log(`fail ${name}: ${reason.replace(/\s+/g, ' ').slice(0, 400)}`);
    }
  }
}
