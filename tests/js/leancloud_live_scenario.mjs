// LeanCloud LiveQuery through the leancloud-storage SDK's live-query entry (unchanged from npm) against
// `leanorm serve --realtime-port`: the SDK subscribes over HTTP, finds the realtime WebSocket through
// /v1/route and hears the events there; the writes come from another client (plain REST calls as another
// user). One line per step: see harness.mjs.
import { load, server, step, check, same, run } from './harness.mjs';

const AV = load('leancloud-storage/live-query');
AV.init({ appId: server.appId, appKey: server.appKey, serverURL: server.url });
const state = {};
const suffix = `${Date.now()}${Math.random().toString(36).slice(2, 8)}`;

/** Another client: a REST call as the writer (its own session, no SDK). */
async function other(method, path, body) {
  const response = await fetch(`${server.url}/1.1/${path}`, {
    method,
    headers: { 'X-LC-Id': server.appId, 'X-LC-Key': server.appKey, 'Content-Type': 'application/json',
      ...(state.writerToken ? { 'X-LC-Session': state.writerToken } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** Events of a live query as [op, objectId, field values..., updatedKeys], in the order they came. */
function record(liveQuery, fields) {
  const heard = [];
  for (const op of ['create', 'update', 'enter', 'leave', 'delete']) {
    liveQuery.on(op, (object, updatedKeys) => {
      heard.push([op, object.id, ...fields.map((f) => object.get(f)), updatedKeys || null]);
    });
  }
  return heard;
}

/** Wait until `heard` has `count` events (or 10 s), then give them. */
async function events(heard, count) {
  for (let waited = 0; heard.length < count && waited < 10000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return heard.slice();
}

const publicRead = (writerId) => ({ '*': { read: true }, [writerId]: { read: true, write: true } });

step('live query subscribe as a signed-up user', async () => {
  const writer = await other('POST', 'users', { username: `writer${suffix}`, password: 'pw-writer' });
  state.writerToken = writer.sessionToken;
  state.writerId = writer.objectId;
  const reader = new AV.User();
  reader.set({ username: `reader${suffix}`, password: 'pw-reader' });
  await reader.signUp();
  state.live = await new AV.Query('LiveTodo').equalTo('list', `groceries${suffix}`).subscribe();
  check(typeof state.live.id === 'string' && state.live.id.length > 0, `query id: ${state.live.id}`);
  state.heard = record(state.live, ['title', 'list']);
});

step('live query hears create, update, leave, enter and delete in order', async () => {
  const list = `groceries${suffix}`;
  const todo = await other('POST', 'classes/LiveTodo', { list, title: 'milk', ACL: publicRead(state.writerId) });
  await other('PUT', `classes/LiveTodo/${todo.objectId}`, { title: 'oat milk' });
  await other('PUT', `classes/LiveTodo/${todo.objectId}`, { list: 'done' });
  await other('PUT', `classes/LiveTodo/${todo.objectId}`, { list });
  await other('DELETE', `classes/LiveTodo/${todo.objectId}`);
  const id = todo.objectId;
  same(await events(state.heard, 5), [
    ['create', id, 'milk', list, null],
    ['update', id, 'oat milk', list, ['title']],
    ['leave', id, 'oat milk', 'done', ['list']],
    ['enter', id, 'oat milk', list, ['list']],
    ['delete', id, 'oat milk', list, null],
  ], 'events');
});

step('live query hears nothing of an object its user may not read', async () => {
  state.heard.length = 0;
  const list = `groceries${suffix}`;
  const secret = await other('POST', 'classes/LiveTodo', {
    list, title: 'secret', ACL: { [state.writerId]: { read: true, write: true } } });
  const open = await other('POST', 'classes/LiveTodo', { list, title: 'open', ACL: publicRead(state.writerId) });
  await other('PUT', `classes/LiveTodo/${secret.objectId}`, { title: 'still secret' });
  // the private object's create came first: had it been heard, it would be first
  same((await events(state.heard, 1)).slice(0, 1), [['create', open.objectId, 'open', list, null]], 'events');
  await other('PUT', `classes/LiveTodo/${open.objectId}`, { ACL: { [state.writerId]: { read: true, write: true } } });
  const [, left] = await events(state.heard, 2);
  same(left && [left[0], left[1]], ['leave', open.objectId], 'losing read access is a leave');
});

step('live query hears again after the connection drops and comes back', async () => {
  const list = `groceries${suffix}`;
  const reconnected = new Promise((resolve) => AV._config.realtime.once('reconnect', resolve));
  AV.LiveQuery.pause();
  AV.LiveQuery.resume();
  await reconnected;
  // the SDK then logs in again and subscribes again (answered the same query id, which it keeps)
  state.heard.length = 0;
  let tries = 0;
  while (!state.heard.length && tries++ < 50) {
    await other('POST', 'classes/LiveTodo', { list, title: 'probe', ACL: publicRead(state.writerId) });
    await events(state.heard, 1);
  }
  check(state.heard.length > 0, 'nothing heard after the reconnect');
  await events(state.heard, tries);
  state.heard.length = 0;
  const after = await other('POST', 'classes/LiveTodo', { list, title: 'after', ACL: publicRead(state.writerId) });
  same(await events(state.heard, 1), [['create', after.objectId, 'after', list, null]], 'events');
});

step('live query hears a matching user log in', async () => {
  const users = await new AV.Query('_User').equalTo('username', `writer${suffix}`).subscribe();
  const logins = [];
  users.on('login', (user) => logins.push([user.id, user.get('username'), user instanceof AV.User]));
  const session = await other('POST', 'login', { username: `writer${suffix}`, password: 'pw-writer' });
  same(await events(logins, 1), [[state.writerId, `writer${suffix}`, true]], 'logins');
  state.writerToken = session.sessionToken;
  await users.unsubscribe();
});

step('live query unsubscribe ends the events', async () => {
  const list = `groceries${suffix}`;
  const sentinel = await new AV.Query('LiveTodo').equalTo('list', `sentinel${suffix}`).subscribe();
  const sentinelHeard = record(sentinel, ['title']);
  await state.live.unsubscribe();
  state.heard.length = 0;
  await other('POST', 'classes/LiveTodo', { list, title: 'unheard', ACL: publicRead(state.writerId) });
  const mark = await other('POST', 'classes/LiveTodo', { list: `sentinel${suffix}`, title: 'mark',
    ACL: publicRead(state.writerId) });
  same(await events(sentinelHeard, 1), [['create', mark.objectId, 'mark', null]], 'the other live query');
  same(state.heard, [], 'the unsubscribed live query');
  await sentinel.unsubscribe();
});

await run();
// the SDK's realtime connection keeps the process alive
process.exit(0);
