// Copies the page's npm dependency (mediabunny's browser bundle and its licence) into
// vendor/, where the page imports it from. Run by `npm ci` (postinstall); scripts/setup runs
// that. vendor/ is not in git: the lockfile pins what lands there.
import fs from 'node:fs';

const here = new URL('.', import.meta.url);
const from = new URL('node_modules/mediabunny/', here);
const to = new URL('vendor/', here);
fs.mkdirSync(to, { recursive: true });
fs.copyFileSync(new URL('dist/bundles/mediabunny.min.mjs', from), new URL('mediabunny.mjs', to));
fs.copyFileSync(new URL('LICENSE', from), new URL('mediabunny.LICENSE', to));
console.log('web/vendor: mediabunny', JSON.parse(fs.readFileSync(new URL('package.json', from))).version);
