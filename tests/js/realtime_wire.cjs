// LeanCloud realtime's GenericCommand through the leancloud-realtime SDK's own protobuf code (unchanged
// from npm): argv[2] is JSON {"encode": [command...], "decode": [hex...]}; prints JSON
// {"encoded": [hex...], "decoded": [command...]} (decoded with enums and 64-bit numbers as numbers).
const path = require('node:path');
const { createRequire } = require('node:module');

const load = createRequire(path.join(process.env.LEANORM_JS_MODULES, 'package.json'));
const core = load('leancloud-realtime/core');
const { GenericCommand } = core.Protocols || core.Protocals;

const asked = JSON.parse(process.argv[2]);
const encoded = asked.encode.map((fields) => Buffer.from(new GenericCommand(fields).toArrayBuffer()).toString('hex'));
const decoded = asked.decode.map((hex) => JSON.parse(GenericCommand.decode(Buffer.from(hex, 'hex')).encodeJSON()));
console.log(JSON.stringify({ encoded, decoded }));
