import { step, run } from './harness.mjs';
step('placeholder', async () => { throw new Error('not written yet'); });
await run();
