// A typical app's data layer on the Parse JS SDK (`parse`, unchanged from npm) against `leanorm serve` in
// the Parse dialect (/parse/). The SDK sends its keys, session and real method inside a text/plain JSON
// body; the server must read that envelope as Parse Server does. One line per step: see harness.mjs.
import { load, server, step, check, same, refused, run } from './harness.mjs';

const Parse = load('parse/node');
Parse.initialize(server.appId, server.appKey, server.masterKey);
Parse.serverURL = server.url;
Parse.User.enableUnsafeCurrentUser();
const master = { useMasterKey: true };
const state = {};
const ids = (objects) => objects.map((o) => o.id).sort();

/** The object as stored, read over plain REST with the master key (to see every stored key). */
async function stored(className, objectId) {
  const answer = await fetch(`${server.url}/classes/${className}/${objectId}`, {
    headers: { 'X-Parse-Application-Id': server.appId, 'X-Parse-Master-Key': server.masterKey },
  });
  return answer.json();
}

step('object save and fetch', async () => {
  const todo = new Parse.Object('PsTodo');
  todo.set({ title: 'write tests', priority: 2, done: false, due: new Date('2026-12-01T00:00:00Z') });
  await todo.save();
  check(todo.id && todo.createdAt instanceof Date, 'no id/createdAt after save');
  const fetched = await new Parse.Query('PsTodo').get(todo.id);
  same([fetched.get('title'), fetched.get('priority'), fetched.get('done')], ['write tests', 2, false], 'fields');
  same(fetched.get('due').toISOString(), '2026-12-01T00:00:00.000Z', 'date');
  state.todo = todo;
});

step('no envelope key is stored', async () => {
  const raw = await stored('PsTodo', state.todo.id);
  same(Object.keys(raw).filter((k) => k.startsWith('_')), [], 'underscore keys');
  same(raw.title, 'write tests', 'title');
});

step('object update and unset', async () => {
  state.todo.set('title', 'write more tests');
  state.todo.unset('priority');
  await state.todo.save();
  const fetched = await new Parse.Query('PsTodo').get(state.todo.id);
  same([fetched.get('title'), fetched.get('priority')], ['write more tests', undefined], 'after update');
});

step('counter increment', async () => {
  state.todo.increment('views', 5);
  await state.todo.save();
  state.todo.decrement('views', 2);
  await state.todo.save();
  same(state.todo.get('views'), 3, 'views');
  same((await new Parse.Query('PsTodo').get(state.todo.id)).get('views'), 3, 'stored views');
});

step('arrays add, addUnique and remove', async () => {
  const todo = state.todo;
  todo.add('tags', 'a');
  await todo.save();
  todo.addAllUnique('tags', ['a', 'b', 'c']);
  await todo.save();
  todo.remove('tags', 'a');
  await todo.save();
  same((await new Parse.Query('PsTodo').get(todo.id)).get('tags'), ['b', 'c'], 'tags');
});

step('batch saveAll', async () => {
  const items = [];
  for (let n = 0; n < 20; n++) {
    const item = new Parse.Object('PsItem');
    item.set({ n, cat: n % 2 ? 'odd' : 'even', name: `item-${String(n).padStart(2, '0')}` });
    items.push(item);
  }
  await Parse.Object.saveAll(items);
  check(items.every((i) => i.id), 'every item has an id');
  same(await new Parse.Query('PsItem').count(), 20, 'stored');
  state.items = items;
});

step('query comparison, order, skip and limit', async () => {
  const rows = await new Parse.Query('PsItem').greaterThanOrEqualTo('n', 5).lessThan('n', 15)
    .descending('n').skip(2).limit(3).find();
  same(rows.map((r) => r.get('n')), [12, 11, 10], 'n');
});

step('query count', async () => {
  same(await new Parse.Query('PsItem').equalTo('cat', 'odd').count(), 10, 'count');
});

step('query containedIn and notContainedIn', async () => {
  same((await new Parse.Query('PsItem').containedIn('n', [1, 2, 3]).ascending('n').find()).map((r) => r.get('n')),
    [1, 2, 3], 'containedIn');
  same(await new Parse.Query('PsItem').notContainedIn('n', [1, 2, 3]).count(), 17, 'notContainedIn');
});

step('query startsWith and matches', async () => {
  same(await new Parse.Query('PsItem').startsWith('name', 'item-1').count(), 10, 'startsWith');
  same(await new Parse.Query('PsItem').matches('name', 'M-0', 'i').count(), 10, 'matches');
});

step('query exists and doesNotExist', async () => {
  same(await new Parse.Query('PsTodo').exists('tags').count(), 1, 'exists');
  same(await new Parse.Query('PsItem').doesNotExist('tags').count(), 20, 'doesNotExist');
});

step('query or and and', async () => {
  const low = new Parse.Query('PsItem').lessThan('n', 2);
  const high = new Parse.Query('PsItem').greaterThan('n', 17);
  same((await Parse.Query.or(low, high).ascending('n').find()).map((r) => r.get('n')), [0, 1, 18, 19], 'or');
  const even = new Parse.Query('PsItem').equalTo('cat', 'even');
  same(await Parse.Query.and(even, new Parse.Query('PsItem').lessThan('n', 6)).count(), 3, 'and');
});

step('query select keys and first', async () => {
  const first = await new Parse.Query('PsItem').select('name').ascending('n').first();
  same([first.get('name'), first.get('n')], ['item-00', undefined], 'selected');
});

step('pointer and include', async () => {
  const list = new Parse.Object('PsList');
  list.set('name', 'groceries');
  const entry = new Parse.Object('PsEntry');
  entry.set({ text: 'milk', list });
  await entry.save();
  const found = await new Parse.Query('PsEntry').include('list').equalTo('list', list).first();
  same(found.get('list').get('name'), 'groceries', 'included');
});

step('geo near, withinKilometers and withinGeoBox', async () => {
  const places = [['beijing', 39.9, 116.4], ['tianjin', 39.13, 117.2], ['shanghai', 31.23, 121.47]];
  await Parse.Object.saveAll(places.map(([name, latitude, longitude]) => {
    const place = new Parse.Object('PsPlace');
    place.set({ name, location: new Parse.GeoPoint(latitude, longitude) });
    return place;
  }));
  const here = new Parse.GeoPoint(39.9, 116.4);
  same((await new Parse.Query('PsPlace').near('location', here).find()).map((p) => p.get('name')),
    ['beijing', 'tianjin', 'shanghai'], 'near');
  same((await new Parse.Query('PsPlace').withinKilometers('location', here, 200, false).find()).map((p) => p.get('name')).sort(),
    ['beijing', 'tianjin'], 'withinKilometers');
  const box = await new Parse.Query('PsPlace')
    .withinGeoBox('location', new Parse.GeoPoint(30, 120), new Parse.GeoPoint(32, 122)).find();
  same(box.map((p) => p.get('name')), ['shanghai'], 'withinGeoBox');
});

step('geo withinPolygon', async () => {
  const triangle = [new Parse.GeoPoint(38, 115), new Parse.GeoPoint(41, 116), new Parse.GeoPoint(39, 118)];
  same((await new Parse.Query('PsPlace').withinPolygon('location', triangle).find()).map((p) => p.get('name')).sort(),
    ['beijing', 'tianjin'], 'withinPolygon');
  const square = [[120, 30], [123, 30], [123, 33], [120, 33]]; // [longitude, latitude], as Parse Server reads pairs
  same((await new Parse.Query('PsPlace').withinPolygon('location', square).find()).map((p) => p.get('name')),
    ['shanghai'], 'withinPolygon with [lng, lat] pairs');
});

step('relation add, query and remove', async () => {
  const album = new Parse.Object('PsAlbum');
  album.set('title', 'trip');
  const photos = state.items.slice(0, 3);
  album.relation('photos').add(photos);
  await album.save();
  same(ids(await album.relation('photos').query().find()), ids(photos), 'members');
  album.relation('photos').remove(photos[0]);
  await album.save();
  same(await album.relation('photos').query().count(), 2, 'after remove');
  same((await new Parse.Query('PsAlbum').equalTo('photos', photos[1]).first()).id, album.id, 'reverse lookup');
});

step('user signUp', async () => {
  const user = new Parse.User();
  user.set({ username: 'parse-ada', password: 'lovelace!', email: 'parse-ada@example.com', nickname: 'Ada' });
  await user.signUp();
  check(user.getSessionToken(), 'a session token after signUp');
  same(Parse.User.current().id, user.id, 'current user');
  state.ada = user;
});

step('user logOut and logIn', async () => {
  await Parse.User.logOut();
  same(Parse.User.current(), null, 'current after logOut');
  const user = await Parse.User.logIn('parse-ada', 'lovelace!');
  same([user.id, user.get('nickname')], [state.ada.id, 'Ada'], 'logged in');
  state.adaToken = user.getSessionToken();
});

step('wrong password refused', async () => {
  const error = await refused(Parse.User.logIn('parse-ada', 'wrong'), 'a wrong password');
  same(error.code, 101, 'code');
});

step('become a user by session token', async () => {
  const user = await Parse.User.become(state.adaToken);
  same(user.get('username'), 'parse-ada', 'username');
  same(Parse.User.current().id, state.ada.id, 'current');
});

step('current session', async () => {
  await Parse.User.become(state.adaToken);
  const session = await Parse.Session.current();
  same([session.getSessionToken(), session.get('user').id], [state.adaToken, state.ada.id], 'session');
});

step('verifyPassword', async () => {
  const user = await Parse.User.verifyPassword('parse-ada', 'lovelace!');
  same([user.username, user.sessionToken], ['parse-ada', undefined], 'verified, no session opened');
  const error = await refused(Parse.User.verifyPassword('parse-ada', 'wrong'), 'a wrong password');
  same(error.code, 101, 'code');
});

step('ACL keeps a private object from others', async () => {
  await Parse.User.become(state.adaToken);
  const secret = new Parse.Object('PsSecret');
  secret.setACL(new Parse.ACL(Parse.User.current()));
  secret.set('text', 'mine');
  await secret.save();
  await Parse.User.logOut();
  const other = new Parse.User();
  other.set({ username: 'parse-bob', password: 'bob-secret' });
  await other.signUp();
  state.bob = other;
  same(await new Parse.Query('PsSecret').count(), 0, 'others see nothing');
  await refused(new Parse.Object('PsSecret', { objectId: secret.id, text: 'stolen' }).save(), 'a write by another user');
  await Parse.User.become(state.adaToken);
  same((await new Parse.Query('PsSecret').get(secret.id)).get('text'), 'mine', 'the owner reads it');
});

step('role with ACL, members and role ACL', async () => {
  await Parse.User.become(state.adaToken);
  const acl = new Parse.ACL();
  acl.setPublicReadAccess(true);
  acl.setWriteAccess(Parse.User.current(), true);
  const role = new Parse.Role('parse-editors', acl);
  role.getUsers().add(state.bob);
  await role.save();
  same(await role.getUsers().query().count(), 1, 'members');
  const doc = new Parse.Object('PsDoc');
  const docAcl = new Parse.ACL();
  docAcl.setRoleReadAccess(role, true);
  doc.setACL(docAcl);
  doc.set('text', 'for editors');
  await doc.save();
  same(await new Parse.Query('PsDoc').count(), 0, 'a non-member sees nothing');
  await Parse.User.logIn('parse-bob', 'bob-secret');
  same(await new Parse.Query('PsDoc').count(), 1, 'a member sees it');
  same((await new Parse.Query(Parse.Role).equalTo('users', Parse.User.current()).find()).map((r) => r.getName()),
    ['parse-editors'], 'roles of the user');
  await Parse.User.become(state.adaToken);
});

step('file from base64', async () => {
  const file = new Parse.File('hello.txt', { base64: Buffer.from('hello, world').toString('base64') });
  await file.save();
  check(file.url() && file.name(), 'url and name');
  same(await (await fetch(file.url())).text(), 'hello, world', 'bytes');
  state.file = file;
});

step('file from a byte array', async () => {
  const file = new Parse.File('bytes.bin', [0, 1, 2, 253, 254, 255]);
  await file.save();
  same([...new Uint8Array(await (await fetch(file.url())).arrayBuffer())], [0, 1, 2, 253, 254, 255], 'bytes');
});

step('file from a Node buffer', async () => {
  const file = new Parse.File('buffer.txt', Buffer.from('from a buffer'), 'text/plain');
  await file.save();
  same(await (await fetch(file.url())).text(), 'from a buffer', 'bytes');
});

step('file in an object and back', async () => {
  const post = new Parse.Object('PsPost');
  post.set({ title: 'with file', attachment: state.file });
  await post.save();
  const found = await new Parse.Query('PsPost').get(post.id);
  same([found.get('attachment').name(), found.get('attachment').url()], [state.file.name(), state.file.url()], 'file');
});

step('file destroy', async () => {
  const file = new Parse.File('gone.txt', { base64: Buffer.from('bye').toString('base64') });
  await file.save();
  await file.destroy(master);
  same((await fetch(file.url())).status, 404, 'bytes after destroy');
});

step('cloud function run', async () => {
  await Parse.User.become(state.adaToken);
  same(await Parse.Cloud.run('hello', { name: 'js' }), 'hello js from parse-ada', 'result');
  same(await Parse.Cloud.run('add', { a: 2, b: 3 }), { sum: 5 }, 'object result');
});

step('config save and get', async () => {
  await Parse.Config.save({ welcome: 'hi', limits: { free: 3 } });
  const config = await Parse.Config.get();
  same([config.get('welcome'), config.get('limits')], ['hi', { free: 3 }], 'params');
});

step('fetchAll', async () => {
  const fetched = await Parse.Object.fetchAll(state.items.slice(0, 4).map((i) => {
    const stub = new Parse.Object('PsItem');
    stub.id = i.id;
    return stub;
  }));
  same(fetched.map((s) => s.get('n')), [0, 1, 2, 3], 'fetched');
});

step('destroyAll', async () => {
  const doomed = state.items.slice(16);
  await Parse.Object.destroyAll(doomed);
  same(await new Parse.Query('PsItem').containedIn('objectId', doomed.map((d) => d.id)).count(), 0, 'left');
  same(await new Parse.Query('PsItem').count(), 16, 'kept');
});

step('aggregate group and sum', async () => {
  const rows = await new Parse.Query('PsItem').aggregate([
    { $match: { n: { $lt: 10 } } },
    { $group: { _id: '$cat', total: { $sum: '$n' }, count: { $sum: 1 } } },
    { $sort: { total: -1 } },
  ]);
  same(rows, [{ objectId: 'odd', total: 25, count: 5 }, { objectId: 'even', total: 20, count: 5 }], 'groups');
});

step('distinct', async () => {
  same((await new Parse.Query('PsItem').distinct('cat')).sort(), ['even', 'odd'], 'values');
  same((await new Parse.Query('PsItem').lessThan('n', 1).distinct('cat')), ['even'], 'filtered');
});

step('master key reads what an ACL hides', async () => {
  await Parse.User.logOut();
  same(await new Parse.Query('PsSecret').count(master), 1, 'master count');
});

step('background job started and its status read', async () => {
  const statusId = await Parse.Cloud.startJob('tally', { label: 'sheep', count: 3 });
  let status = await Parse.Cloud.getJobStatus(statusId);
  for (let i = 0; i < 100 && status.get('status') === 'running'; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    status = await Parse.Cloud.getJobStatus(statusId);
  }
  same([status.get('jobName'), status.get('status'), status.get('message')], ['tally', 'succeeded', 'counted 3 sheep'],
    'status');
});

step('object destroy', async () => {
  await new Parse.Query('PsTodo').get(state.todo.id).then((todo) => todo.destroy());
  same(await new Parse.Query('PsTodo').count(), 0, 'left');
});

await run();
