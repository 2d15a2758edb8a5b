// Parse Dashboard, in a headless Chromium, used as an app's console against `leanorm serve`.
//
// Each step is what an admin does in the console: clicks and typing in the dashboard's own pages.
// What a step expects is checked where it lands: in the server (read back over REST with the master
// key) and on the page. One line per step: "pass NAME" or "fail NAME: why". Steps declared with
// fullStep() run only with LEANORM_DASHBOARD_FULL=1 (tests/dashboard/test_parse_dashboard.py).
import { createRequire } from 'module';

const env = process.env;
const require = createRequire(env.LEANORM_DASHBOARD_MODULES + '/');
const puppeteer = require('puppeteer-core');

const DASHBOARD = env.LEANORM_DASHBOARD_URL;      // the dashboard's page, e.g. http://127.0.0.1:4040
const APP = env.LEANORM_DASHBOARD_APP;            // the app's name in the dashboard's config
const SERVER = env.LEANORM_SERVER_URL;            // the app's Parse endpoint, e.g. http://127.0.0.1:1337/parse
const FULL = env.LEANORM_DASHBOARD_FULL === '1';
const WAIT = 15000;

const steps = [];
function step(name, run) { steps.push({ name, run }); }
function fullStep(name, run) { if (FULL) steps.push({ name, run }); }

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

async function api(method, path, body) {
  const response = await fetch(`${SERVER}/${path}`, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'X-Parse-Application-Id': env.LEANORM_APP_ID, 'X-Parse-Master-Key': env.LEANORM_MASTER_KEY,
               'Content-Type': 'application/json' },
  });
  return { status: response.status, json: await response.json() };
}

/** Poll `probe` until it returns a truthy value (returned), or fail with `what`. */
async function until(what, probe) {
  const deadline = Date.now() + WAIT;
  let last;
  while (Date.now() < deadline) {
    try { last = await probe(); } catch (error) { last = error; }
    if (last && !(last instanceof Error)) return last;
    await sleep(150);
  }
  throw new Error(`${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

function check(condition, message) { if (!condition) throw new Error(message); }

const rows = async (className, params = '') =>
  (await api('GET', `classes/${className}?limit=1000${params}`)).json.results;
async function fields(className) {
  const answer = await api('GET', `schemas/${className}`);
  if (answer.status !== 200) throw new Error(`schemas/${className} answered ${answer.status}`);
  return answer.json.fields;
}

// -- the page --------------------------------------------------------------------------------------
let page;
const serverErrors = [];

async function open(path) {
  await page.goto(`${DASHBOARD}/apps/${encodeURIComponent(APP)}/${path}`, { waitUntil: 'networkidle0' });
  await until('the dashboard never finished loading', async () =>
    !(await bodyText()).includes('Loading') || (await bodyText()).length > 200);
}

const bodyText = () => page.evaluate(() => document.body.innerText);

/** The last element whose own text is `text` (inside `within`, a CSS selector, when given). */
async function byText(text, within = '') {
  const scope = within ? `//*[contains(@data-modal, "true")]` : '';
  return until(`nothing shows "${text}"`, async () => {
    const found = await page.$$(`xpath/${scope}//*[normalize-space(text())=${JSON.stringify(text)}]`);
    return found.length ? found[found.length - 1] : null;
  });
}

/** Click the element showing `text`; found again when the page re-rendered it between finding and clicking
 * (puppeteer's "Node is detached from document"). */
async function click(text, within = '') {
  await until(`could not click ${text}`, async () => { await (await byText(text, within)).click(); return true; });
}

/** Type `text` into the input `selector` (what it held replaced); found again, and typed again, when the page
 * re-rendered it meanwhile (as `click`). */
async function typeInto(selector, text) {
  await until(`could not type into ${selector}`, async () => {
    const input = await page.$(selector);
    if (!input) return null;
    await input.click({ clickCount: 3 });
    await input.type(text);
    return true;
  });
}

/** Choose `option` in the modal's `index`-th dropdown. */
async function choose(option, index = 0) {
  // each found again when the page re-rendered it between finding and clicking (as `click`)
  await until('no dropdown in the dialog', async () => {
    const found = await page.$$('[data-modal] [role=combobox]');
    if (found.length <= index) return null;
    await found[index].click();
    return true;
  });
  await until(`no option "${option}"`, async () => {
    const choice = await page.$(`[role=listbox] [role=option] [value=${JSON.stringify(option)}]`);
    if (!choice) return null;
    // a DOM click: the list scrolls as the pointer moves over it, so a click at coordinates can miss
    await choice.evaluate(element => element.closest('[role=option]').click());
    return true;
  });
}

/** The centre of the data browser's cell in column `column` of the row whose objectId is `id`
 * (or of the row being added, when `id` is null). */
async function cellAt(id, column) {
  return until(`no cell ${column} of row ${id}`, () => page.evaluate((id, column) => {
    const table = document.getElementById('browser-table');
    if (!table) return null;
    const header = [...table.firstElementChild.children].map(h => h.innerText.split('\n')[0].trim());
    const at = header.indexOf(column);
    const idAt = header.indexOf('objectId');
    const lines = [...table.querySelectorAll('div')].filter(d => d.firstElementChild?.tagName === 'SPAN'
      && d.firstElementChild.querySelector('input[type=checkbox]'));
    const line = lines.find(l => l.children.length > idAt && (id === null ? l.children[idAt].innerText.includes('(undefined)')
      : l.children[idAt].innerText.trim() === id));
    if (!line || at < 0) return null;
    line.children[at].scrollIntoView({ block: 'center', inline: 'center' });
    const box = line.children[at].getBoundingClientRect();
    return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  }, id, column));
}

/** Select a cell, open its editor (Enter), replace what it holds by `value`, and press Enter. */
async function editCell(id, column, value) {
  const at = await cellAt(id, column);
  await page.mouse.click(at.x, at.y);
  await page.keyboard.press('Enter');
  await until('no cell editor opened', () => page.evaluate(() =>
    ['INPUT', 'TEXTAREA'].includes(document.activeElement?.tagName) && document.activeElement.type !== 'checkbox'));
  await page.keyboard.down('Control'); await page.keyboard.press('KeyA'); await page.keyboard.up('Control');
  await page.keyboard.type(String(value));
  await page.keyboard.press('Enter');
  await until('the cell editor did not close', () => page.evaluate(() =>
    !['INPUT', 'TEXTAREA'].includes(document.activeElement?.tagName) || document.activeElement.type === 'checkbox'));
}

/** A class made through the dashboard's "Create a class" dialog. */
async function createClass(name) {
  await open('browser/_User');
  await click('Create a class');
  await typeInto('[data-modal] input[placeholder="Give it a good name..."]', name);
  await click('Create', 'modal');
  await until(`class ${name} was not created`, async () => (await api('GET', `schemas/${name}`)).status === 200);
  await until(`the browser did not open ${name}`, async () => page.url().endsWith(`/browser/${name}`));
}

/** A column added through the "Add a new column" dialog. */
async function addColumn(className, name, type, target) {
  await click('Add a new column');
  await choose(type, 0);
  if (target) await choose(target, 1);
  await typeInto('[data-modal] input[placeholder="Give it a good name..."]', name);
  await click('Add', 'modal');
  await until(`column ${name} was not added`, async () => (await fields(className))[name]);
}

// -- the flows ---------------------------------------------------------------------------------------
const stamp = Date.now().toString(36);
const SHELF = `Shelf${stamp}`;
const SEEDED = `Seeded${stamp}`;
let shelfRow;

step('the class list shows the system classes and an app class with its count', async () => {
  await api('POST', `classes/${SEEDED}`, { title: 'first', n: 1 });
  await api('POST', `classes/${SEEDED}`, { title: 'second', n: 2 });
  await open(`browser/${SEEDED}`);
  const text = await bodyText();
  check(!text.includes('Server not reachable'), 'the dashboard says the server is not reachable');
  for (const name of ['_User', '_Role', SEEDED]) check(text.includes(name), `${name} is not listed`);
  await until('the rows of the seeded class are not shown', async () => (await bodyText()).includes('second'));
});

step('a class is created with typed columns', async () => {
  await createClass(SHELF);
  await addColumn(SHELF, 'title', 'String');
  await addColumn(SHELF, 'copies', 'Number');
  await addColumn(SHELF, 'inStock', 'Boolean');
  await addColumn(SHELF, 'owner', 'Pointer', '_User');
  const made = await fields(SHELF);
  check(made.title.type === 'String' && made.copies.type === 'Number' && made.inStock.type === 'Boolean',
    `columns: ${JSON.stringify(made)}`);
  check(made.owner.type === 'Pointer' && made.owner.targetClass === '_User', `owner: ${JSON.stringify(made.owner)}`);
});

step('a row is added and its cells edited', async () => {
  await open(`browser/${SHELF}`);
  await click('Add Row');
  await editCell(null, 'title', 'Dune');
  await click('Add');
  await until('the new row was not saved', async () => (await rows(SHELF)).length === 1);
  shelfRow = (await rows(SHELF))[0];
  check(shelfRow.title === 'Dune', `saved row: ${JSON.stringify(shelfRow)}`);
  await open(`browser/${SHELF}`);
  await editCell(shelfRow.objectId, 'copies', '3');
  await until('the number cell was not saved', async () => (await rows(SHELF))[0].copies === 3);
  await editCell(shelfRow.objectId, 'title', 'Dune Messiah');
  await until('the text cell was not saved', async () => (await rows(SHELF))[0].title === 'Dune Messiah');
});

step('a column is deleted with its data, then the class', async () => {
  await open(`browser/${SHELF}`);
  await click('Edit');
  await click('Delete a column');
  await choose('title', 0);
  await click('Remove', 'modal');
  await until('the column is still there', async () => !('title' in await fields(SHELF)));
  check(!('title' in (await rows(SHELF))[0]), 'the column\'s data was kept');
  for (const row of await rows(SHELF)) await api('DELETE', `classes/${SHELF}/${row.objectId}`);
  await open(`browser/${SHELF}`);
  await click('Edit');
  await click('Delete this class');
  await typeInto('[data-modal] input', SHELF);
  await click('Delete', 'modal');
  await until('the class is still there', async () => (await api('GET', `schemas/${SHELF}`)).json.code === 103);
});

// -- the full run (LEANORM_DASHBOARD_FULL=1) ---------------------------------------------------------
const BOOKS = `Books${stamp}`;

/** The text of every row's cell in `column`, top to bottom. */
const columnValues = column => page.evaluate(column => {
  const table = document.getElementById('browser-table');
  if (!table) return [];
  const header = [...table.firstElementChild.children].map(h => h.innerText.split('\n')[0].trim());
  const at = header.indexOf(column);
  return [...table.querySelectorAll('div')].filter(d => d.firstElementChild?.tagName === 'SPAN'
    && d.firstElementChild.querySelector('input[type=checkbox]') && d.children.length > at)
    .map(d => d.children[at].innerText.trim());
}, column);

/** Click the checkbox of `option` ("Read", "Write", ...) in the dialog row labelled `label`. */
async function toggle(label, option) {
  const at = await until(`no ${option} for ${label}`, () => page.evaluate((label, option) => {
    const name = [...document.querySelectorAll('[data-modal] *')].find(e => e.childElementCount === 0
      && (e.innerText || '').trim() === label);
    if (!name) return null;
    const box = [...name.parentElement.querySelectorAll('span')].find(e => (e.innerText || '').trim() === option);
    const mark = box?.nextElementSibling || box;
    if (!mark) return null;
    const r = mark.getBoundingClientRect();
    return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
  }, label, option));
  await page.mouse.click(at.x, at.y);
}

fullStep('rows are filtered and sorted', async () => {
  for (const [title, n] of [['b', 2], ['a', 1], ['c', 3]]) await api('POST', `classes/${BOOKS}`, { title, n });
  const filters = JSON.stringify([{ field: 'n', constraint: 'gt', compareTo: 1 }]);
  await open(`browser/${BOOKS}?filters=${encodeURIComponent(filters)}`);
  await until('the filter did not leave only b and c', async () => {
    const titles = (await columnValues('title')).sort().join('');
    return titles === 'bc' ? titles : null;
  });
  await open(`browser/${BOOKS}`);
  await click('n');
  const order = await until('sorting by n did not order the rows', async () => {
    const titles = (await columnValues('title')).join('');
    return titles === 'abc' || titles === 'cba' ? titles : null;
  });
  check(order, 'no order');
});

fullStep('the class permissions dialog closes a class to the public', async () => {
  await open(`browser/${BOOKS}`);
  await click('Security');
  await click('Class Level Permissions');
  await toggle('Public', 'Write');
  await click('Save CLP');
  await until('the class permissions were not saved', async () => {
    const rules = (await api('GET', `schemas/${BOOKS}`)).json.classLevelPermissions;
    return rules && !rules.create?.['*'] && !rules.update?.['*'] && rules.find?.['*'] ? rules : null;
  });
  const refused = await fetch(`${SERVER}/classes/${BOOKS}`, { method: 'POST', body: '{}', headers: {
    'X-Parse-Application-Id': env.LEANORM_APP_ID, 'X-Parse-REST-API-Key': env.LEANORM_APP_KEY,
    'Content-Type': 'application/json' } });
  const why = await refused.json();
  check(why.code === 119, `a public create was answered ${refused.status} ${JSON.stringify(why)}`);
  await open(`browser/${BOOKS}`);
  await click('Security');
  await click('Class Level Permissions');
  await toggle('Public', 'Write');
  await click('Save CLP');
  await until('the class did not open again', async () =>
    (await api('GET', `schemas/${BOOKS}`)).json.classLevelPermissions?.create?.['*'] === true);
});

fullStep('the ACL dialog makes a row private', async () => {
  const [row] = await rows(BOOKS, '&where=' + encodeURIComponent(JSON.stringify({ title: 'a' })));
  await open(`browser/${BOOKS}`);
  const at = await cellAt(row.objectId, 'ACL');
  await page.mouse.click(at.x, at.y);
  await page.keyboard.press('Enter');
  await until('the ACL dialog did not open', async () => (await page.$('[data-modal]')) !== null);
  await toggle('Public', 'Read');
  await toggle('Public', 'Write');
  await click('Save ACL', 'modal');
  await until('the ACL was not saved', async () => {
    const [saved] = await rows(BOOKS, '&where=' + encodeURIComponent(JSON.stringify({ objectId: row.objectId })));
    return saved?.ACL && !saved.ACL['*'] ? saved : null;  // a row without an ACL is public
  });
});

fullStep('a file cell takes an upload', async () => {
  await open(`browser/${BOOKS}`);
  await addColumn(BOOKS, 'cover', 'File');
  const [row] = await rows(BOOKS, '&where=' + encodeURIComponent(JSON.stringify({ title: 'b' })));
  await open(`browser/${BOOKS}`);
  const at = await cellAt(row.objectId, 'cover');
  await page.mouse.click(at.x, at.y);
  await page.keyboard.press('Enter');
  const input = await until('no file input', () => page.$('input[type=file]'));
  const path = `${env.LEANORM_DASHBOARD_SHOTS || '/tmp'}/cover-${stamp}.txt`;
  (await import('fs')).writeFileSync(path, 'a cover');
  await input.uploadFile(path);
  const saved = await until('the file was not saved in the row', async () => {
    const [got] = await rows(BOOKS, '&where=' + encodeURIComponent(JSON.stringify({ objectId: row.objectId })));
    return got?.cover?.url ? got.cover : null;
  });
  const body = await (await fetch(saved.url)).text();
  check(body === 'a cover', `the file answers ${JSON.stringify(body.slice(0, 80))}`);
});

fullStep('a user and a role are created', async () => {
  const name = `admin${stamp}`;
  await open('browser/_User');
  await click('Add Row');
  await editCell(null, 'username', name);
  await editCell(null, 'password', 'pw-123456');
  await click('Add');
  const [user] = await until('the user was not saved', async () => {
    const found = await rows('_User', '&where=' + encodeURIComponent(JSON.stringify({ username: name })));
    return found.length ? found : null;
  });
  const login = await fetch(`${SERVER}/login`, { method: 'POST', body: JSON.stringify({ username: name, password: 'pw-123456' }),
    headers: { 'X-Parse-Application-Id': env.LEANORM_APP_ID, 'X-Parse-REST-API-Key': env.LEANORM_APP_KEY,
               'Content-Type': 'application/json' } });
  check(login.status === 200, `the new user cannot log in: ${login.status} ${await login.text()}`);
  await open('browser/_Role');
  await click('Add Row');
  await editCell(null, 'name', `editors${stamp}`);
  const acl = await cellAt(null, 'ACL');  // the dashboard asks a role for an ACL
  await page.mouse.click(acl.x, acl.y);
  await page.keyboard.press('Enter');
  await toggle('Public', 'Read');
  await click('Save ACL', 'modal');
  await click('Add');
  await until('the role was not saved', async () =>
    (await rows('_Role', '&where=' + encodeURIComponent(JSON.stringify({ name: `editors${stamp}` })))).length === 1);
  check(user.objectId, 'no user id');
});

fullStep('the API console sends a query', async () => {
  await open('api_console');
  await typeInto('input[placeholder*="classes"], input[placeholder*="endpoint"], input[placeholder*="/"]', `classes/${BOOKS}`);
  await click('Send Query');
  await until('the results do not show the rows', async () => {
    const text = await bodyText();
    return text.includes('"title"') && text.includes('"results"');
  });
});

// -- running -----------------------------------------------------------------------------------------
const browser = await puppeteer.launch({
  executablePath: env.LEANORM_CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});
try {
  page = await browser.newPage();
  await page.setViewport({ width: 1600, height: 1000 });
  page.on('response', response => {
    if (env.LEANORM_DASHBOARD_TRACE && response.url().startsWith(SERVER)) {
      console.error(`${response.status()} ${response.url()} ${(response.request().postData() || '').slice(0, 300)}`);
    }
    if (response.url().startsWith(SERVER) && response.status() >= 500) {
      serverErrors.push(`${response.status()} ${response.request().method()} ${response.url()}`);
    }
  });
  for (const { name, run } of steps) {
    try {
      await run();
      check(serverErrors.length === 0, `the server failed: ${serverErrors.join('; ')}`);
      console.log(`pass ${name}`);
    } catch (error) {
      console.log(`fail ${name}: ${String(error.message || error).replace(/\s+/g, ' ').slice(0, 500)}`);
      if (env.LEANORM_DASHBOARD_SHOTS) {
        await page.screenshot({ path: `${env.LEANORM_DASHBOARD_SHOTS}/${steps.indexOf(steps.find(s => s.name === name))}.png` });
      }
    }
    serverErrors.length = 0;
  }
} finally {
  await browser.close();
}
