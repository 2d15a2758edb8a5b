// A typical app's data layer on the LeanCloud JS SDK (`leancloud-storage`, unchanged from npm) against
// `leanorm serve` in the LeanCloud dialect (/1.1/). One line per step: see harness.mjs.
import { Readable } from 'node:stream';
import { load, server, step, check, same, refused, run } from './harness.mjs';

const AV = load('leancloud-storage');
AV.init({ appId: server.appId, appKey: server.appKey, masterKey: server.masterKey, serverURL: server.url });
const master = { useMasterKey: true };
const state = {};
const ids = (objects) => objects.map((o) => o.id).sort();

step('object save and fetch', async () => {
  const todo = new AV.Object('JsTodo');
  todo.set({ title: 'write tests', priority: 2, done: false, due: new Date('2026-12-01T00:00:00Z') });
  await todo.save();
  check(todo.id && todo.createdAt instanceof Date, 'no id/createdAt after save');
  const fetched = await AV.Object.createWithoutData('JsTodo', todo.id).fetch();
  same([fetched.get('title'), fetched.get('priority'), fetched.get('done')], ['write tests', 2, false], 'fields');
  same(fetched.get('due').toISOString(), '2026-12-01T00:00:00.000Z', 'date');
  state.todo = todo;
});

step('object update and unset', async () => {
  state.todo.set('title', 'write more tests');
  state.todo.unset('priority');
  await state.todo.save();
  const fetched = await AV.Object.createWithoutData('JsTodo', state.todo.id).fetch();
  same([fetched.get('title'), fetched.get('priority')], ['write more tests', undefined], 'after update');
});

step('counter increment with fetchWhenSave', async () => {
  state.todo.increment('views', 5);
  await state.todo.save(null, { fetchWhenSave: true });
  state.todo.increment('views', -2);
  await state.todo.save(null, { fetchWhenSave: true });
  same(state.todo.get('views'), 3, 'views');
});

step('conditional update refused when the query does not match', async () => {
  state.todo.set('title', 'never');
  const error = await refused(state.todo.save(null, { query: new AV.Query('JsTodo').equalTo('views', 99) }),
    'a save whose condition fails');
  same(error.code, 305, 'code');
});

step('arrays add, addUnique and remove', async () => {
  const todo = AV.Object.createWithoutData('JsTodo', state.todo.id);
  todo.add('tags', 'a');
  await todo.save();
  todo.addUnique('tags', ['a', 'b', 'c']);
  await todo.save();
  todo.remove('tags', 'a');
  await todo.save();
  same((await todo.fetch()).get('tags'), ['b', 'c'], 'tags');
});

step('batch saveAll', async () => {
  const items = [];
  for (let n = 0; n < 20; n++) {
    const item = new AV.Object('JsItem');
    item.set({ n, cat: n % 2 ? 'odd' : 'even', name: `item-${String(n).padStart(2, '0')}` });
    items.push(item);
  }
  await AV.Object.saveAll(items);
  check(items.every((i) => i.id), 'every item has an id');
  state.items = items;
});

step('query comparison, order, skip and limit', async () => {
  const rows = await new AV.Query('JsItem').greaterThanOrEqualTo('n', 5).lessThan('n', 15)
    .descending('n').skip(2).limit(3).find();
  same(rows.map((r) => r.get('n')), [12, 11, 10], 'n');
});

step('query count', async () => {
  same(await new AV.Query('JsItem').equalTo('cat', 'odd').count(), 10, 'count');
});

step('query containedIn and notContainedIn', async () => {
  same((await new AV.Query('JsItem').containedIn('n', [1, 2, 3]).ascending('n').find()).map((r) => r.get('n')),
    [1, 2, 3], 'containedIn');
  same(await new AV.Query('JsItem').notContainedIn('n', [1, 2, 3]).count(), 17, 'notContainedIn');
});

step('query startsWith and contains', async () => {
  same(await new AV.Query('JsItem').startsWith('name', 'item-1').count(), 10, 'startsWith');
  same(await new AV.Query('JsItem').contains('name', 'm-0').count(), 10, 'contains');
});

step('query exists and doesNotExist', async () => {
  same(await new AV.Query('JsTodo').exists('tags').count(), 1, 'exists');
  same(await new AV.Query('JsItem').doesNotExist('tags').count(), 20, 'doesNotExist');
});

step('query or and and', async () => {
  const low = new AV.Query('JsItem').lessThan('n', 2);
  const high = new AV.Query('JsItem').greaterThan('n', 17);
  same((await AV.Query.or(low, high).ascending('n').find()).map((r) => r.get('n')), [0, 1, 18, 19], 'or');
  const even = new AV.Query('JsItem').equalTo('cat', 'even');
  same(await AV.Query.and(even, new AV.Query('JsItem').lessThan('n', 6)).count(), 3, 'and');
});

step('query select keys and first', async () => {
  const first = await new AV.Query('JsItem').select(['name']).ascending('n').first();
  same([first.get('name'), first.get('n')], ['item-00', undefined], 'selected');
});

step('long query goes as a batch and stays filtered', async () => {
  const wanted = state.items.slice(0, 3).map((i) => i.id);
  const padding = Array.from({ length: 120 }, (_, k) => `missing-${String(k).padStart(20, '0')}`);
  const query = new AV.Query('JsItem').containedIn('objectId', [...padding, ...wanted]);
  same(ids(await query.find()), [...wanted].sort(), 'rows');
  same(await query.count(), 3, 'count');
});

step('pointer and include', async () => {
  const list = new AV.Object('JsList');
  list.set('name', 'groceries');
  const entry = new AV.Object('JsEntry');
  entry.set({ text: 'milk', list });
  await entry.save();
  const found = await new AV.Query('JsEntry').include('list').equalTo('list', list).first();
  same(found.get('list').get('name'), 'groceries', 'included');
});

step('geo near, withinKilometers and withinGeoBox', async () => {
  const places = [['beijing', 39.9, 116.4], ['tianjin', 39.13, 117.2], ['shanghai', 31.23, 121.47]];
  await AV.Object.saveAll(places.map(([name, lat, lng]) => {
    const place = new AV.Object('JsPlace');
    place.set({ name, location: new AV.GeoPoint(lat, lng) });
    return place;
  }));
  const here = new AV.GeoPoint(39.9, 116.4);
  same((await new AV.Query('JsPlace').near('location', here).find()).map((p) => p.get('name')),
    ['beijing', 'tianjin', 'shanghai'], 'near');
  same((await new AV.Query('JsPlace').withinKilometers('location', here, 200).find()).map((p) => p.get('name')).sort(),
    ['beijing', 'tianjin'], 'withinKilometers');
  const box = await new AV.Query('JsPlace').withinGeoBox('location', new AV.GeoPoint(30, 120), new AV.GeoPoint(32, 122)).find();
  same(box.map((p) => p.get('name')), ['shanghai'], 'withinGeoBox');
});

step('relation add, query and remove', async () => {
  const album = new AV.Object('JsAlbum');
  album.set('title', 'trip');
  const photos = state.items.slice(0, 3);
  const relation = album.relation('photos');
  relation.add(photos);
  await album.save();
  same(ids(await album.relation('photos').query().find()), ids(photos), 'members');
  album.relation('photos').remove(photos[0]);
  await album.save();
  same(await album.relation('photos').query().count(), 2, 'after remove');
  same((await new AV.Query('JsAlbum').equalTo('photos', photos[1]).first()).id, album.id, 'reverse lookup');
  state.album = album;
});

step('user signUp', async () => {
  const user = new AV.User();
  user.set({ username: 'ada', password: 'lovelace!', email: 'ada@example.com', nickname: 'Ada' });
  await user.signUp();
  check(user.getSessionToken(), 'a session token after signUp');
  same(AV.User.current().id, user.id, 'current user');
  state.ada = user;
});

step('user logOut and logIn', async () => {
  await AV.User.logOut();
  same(AV.User.current(), null, 'current after logOut');
  const user = await AV.User.logIn('ada', 'lovelace!');
  same([user.id, user.get('nickname')], [state.ada.id, 'Ada'], 'logged in');
  state.adaToken = user.getSessionToken();
});

step('wrong password refused', async () => {
  const error = await refused(AV.User.logIn('ada', 'wrong'), 'a wrong password');
  same(error.code, 210, 'code');
});

step('become a user by session token', async () => {
  const user = await AV.User.become(state.adaToken);
  same(user.get('username'), 'ada', 'username');
  check(await user.isAuthenticated(), 'authenticated');
});

step('update password', async () => {
  await AV.User.current().updatePassword('lovelace!', 'babbage!');
  const user = await AV.User.logIn('ada', 'babbage!');
  state.adaToken = user.getSessionToken();
});

step('ACL keeps a private object from others', async () => {
  const secret = new AV.Object('JsSecret');
  const acl = new AV.ACL();
  acl.setReadAccess(AV.User.current(), true);
  acl.setWriteAccess(AV.User.current(), true);
  secret.setACL(acl);
  secret.set('text', 'mine');
  await secret.save();
  state.secret = secret;
  await AV.User.logOut();
  const other = new AV.User();
  other.set({ username: 'bob', password: 'bob-secret' });
  await other.signUp();
  state.bob = other;
  same(await new AV.Query('JsSecret').count(), 0, 'others see nothing');
  await refused(AV.Object.createWithoutData('JsSecret', secret.id).save({ text: 'stolen' }), 'a write by another user');
  await AV.User.become(state.adaToken);
  same((await AV.Object.createWithoutData('JsSecret', secret.id).fetch()).get('text'), 'mine', 'the owner reads it');
});

step('role with ACL, members and role ACL', async () => {
  await AV.User.become(state.adaToken);
  const acl = new AV.ACL();
  acl.setPublicReadAccess(true);
  acl.setWriteAccess(AV.User.current(), true);
  const role = new AV.Role('editors', acl);
  role.getUsers().add(state.bob);
  await role.save();
  same(await role.getUsers().query().count(), 1, 'members');
  const doc = new AV.Object('JsDoc');
  const docAcl = new AV.ACL();
  docAcl.setRoleReadAccess(role, true);
  doc.setACL(docAcl);
  doc.set('text', 'for editors');
  await doc.save();
  same(await new AV.Query('JsDoc').count(), 0, 'a non-member sees nothing');
  await AV.User.logIn('bob', 'bob-secret');
  same(await new AV.Query('JsDoc').count(), 1, 'a member sees it');
  const roles = await AV.User.current().getRoles();
  same(roles.map((r) => r.getName()), ['editors'], 'getRoles');
  await AV.User.become(state.adaToken);
});

step('role without ACL refused', async () => {
  const role = new AV.Role('no-acl');
  const error = await refused(role.save(), 'a role without an ACL');
  check(error.code !== undefined, `an API error, got ${error}`);
});

step('file from a buffer', async () => {
  const file = new AV.File('hello.txt', Buffer.from('hello, world'));
  await file.save();
  check(file.id && file.url(), 'id and url');
  const body = await (await fetch(file.url())).text();
  same(body, 'hello, world', 'bytes');
  state.file = file;
});

step('file from a stream of unknown size', async () => {
  const file = new AV.File('stream.txt', Readable.from([Buffer.from('streamed '), Buffer.from('bytes')]));
  await file.save();
  same(await (await fetch(file.url())).text(), 'streamed bytes', 'bytes');
});

step('file by URL', async () => {
  const file = AV.File.withURL('logo.png', 'https://example.com/logo.png');
  await file.save();
  const fetched = await AV.File.createWithoutData(file.id).fetch();
  same(fetched.url(), 'https://example.com/logo.png', 'url');
});

step('file in an object and back', async () => {
  const post = new AV.Object('JsPost');
  post.set({ title: 'with file', attachment: state.file });
  await post.save();
  const found = await new AV.Query('JsPost').equalTo('objectId', post.id).first();
  same([found.get('attachment').id, found.get('attachment').url()], [state.file.id, state.file.url()], 'file');
});

step('file destroy', async () => {
  const file = new AV.File('gone.txt', Buffer.from('bye'));
  await file.save();
  await file.destroy();
  const error = await refused(AV.File.createWithoutData(file.id).fetch(), 'fetching a destroyed file');
  check(error.code !== undefined, `an API error, got ${error}`);
});

step('cloud function run', async () => {
  await AV.User.become(state.adaToken);
  same(await AV.Cloud.run('hello', { name: 'js' }), 'hello js from ada', 'result');
  same(await AV.Cloud.run('add', { a: 2, b: 3 }), { sum: 5 }, 'object result');
});

step('server date', async () => {
  const date = await AV.Cloud.getServerDate();
  check(Math.abs(date - Date.now()) < 60000, `server date ${date}`);
});

step('fetchAll', async () => {
  const stubs = state.items.slice(0, 4).map((i) => AV.Object.createWithoutData('JsItem', i.id));
  await AV.Object.fetchAll(stubs);
  same(stubs.map((s) => s.get('n')), [0, 1, 2, 3], 'fetched');
});

step('destroyAll', async () => {
  const doomed = state.items.slice(16);
  await AV.Object.destroyAll(doomed);
  same(await new AV.Query('JsItem').containedIn('objectId', doomed.map((d) => d.id)).count(), 0, 'left');
  same(await new AV.Query('JsItem').count(), 16, 'kept');
});

step('CQL select with where and order', async () => {
  const answer = await AV.Query.doCloudQuery('select * from JsItem where n < 3 order by n');
  same(answer.results.map((r) => r.get('n')), [0, 1, 2], 'results');
  same(answer.className, 'JsItem', 'className');
});

step('CQL with pvalues', async () => {
  const answer = await AV.Query.doCloudQuery('select * from JsItem where cat = ? and n > ?', ['odd', 10]);
  same(answer.results.map((r) => r.get('n')).sort((a, b) => a - b), [11, 13, 15], 'results');
});

step('CQL count', async () => {
  const answer = await AV.Query.doCloudQuery('select count(*) from JsItem where cat = ?', ['even']);
  same(answer.count, 8, 'count');
});

step('CQL select star with count', async () => {
  const answer = await AV.Query.doCloudQuery('select *, count(objectId) from JsItem where n < 4 order by n');
  same([answer.results.map((r) => r.get('n')), answer.count], [[0, 1, 2, 3], 4], 'results and count');
});

step('CQL syntax error answered as an error', async () => {
  const error = await refused(AV.Query.doCloudQuery('select from where'), 'a malformed CQL');
  check(error.code !== undefined, `an API error, got ${error}`);
});

step('master key reads what an ACL hides', async () => {
  await AV.User.logOut();
  same(await new AV.Query('JsSecret').count(master), 1, 'master count');
});

step('object destroy', async () => {
  await AV.Object.createWithoutData('JsTodo', state.todo.id).destroy();
  same(await new AV.Query('JsTodo').count(), 0, 'left');
});

// -- leaderboards (AV.Leaderboard) -------------------------------------------------------------------------
const board = `jsscore${Date.now()}`;
const board2 = `${board}b`;

step('leaderboard create and fetch with the master key', async () => {
  state.board = await AV.Leaderboard.createLeaderboard({ statisticName: board, order: AV.LeaderboardOrder.ASCENDING,
    updateStrategy: AV.LeaderboardUpdateStrategy.BETTER, versionChangeInterval: AV.LeaderboardVersionChangeInterval.WEEK },
  master);
  await AV.Leaderboard.createLeaderboard({ statisticName: board2, order: AV.LeaderboardOrder.ASCENDING }, master);
  const fetched = await AV.Leaderboard.getLeaderboard(board);
  same([fetched.statisticName, fetched.order, fetched.updateStrategy, fetched.versionChangeInterval, fetched.version],
    [board, 'ascending', 'better', 'week', 0], 'leaderboard');
  check(fetched.nextResetAt instanceof Date, 'nextResetAt is a Date');
});

step('leaderboard change refused without the master key', async () => {
  await refused(state.board.updateVersionChangeInterval(AV.LeaderboardVersionChangeInterval.NEVER), 'a client change');
  const changed = await state.board.updateUpdateStrategy(AV.LeaderboardUpdateStrategy.LAST, master);
  same(changed.updateStrategy, 'last', 'strategy');
  await state.board.updateUpdateStrategy(AV.LeaderboardUpdateStrategy.BETTER, master);
});

step('leaderboard users update their own statistics', async () => {
  const company = await new AV.Object('JsCompany', { name: 'LeanCloud' }).save();
  state.players = [];
  for (const n of [0, 1, 2, 3]) {
    const user = new AV.User({ company });
    user.setUsername(`jsplayer${n}${Date.now()}`).setPassword('pw');
    await user.signUp();
    const stats = await AV.Leaderboard.updateStatistics(user, { [board]: n, [board2]: -n }, { user });
    same(stats.map((s) => [s.name, s.value, s.version]), [[board, n, 0], [board2, -n, 0]], 'statistics');
    state.players.push(user);
  }
  await AV.User.logOut();
  const own = await AV.Leaderboard.getStatistics(state.players[2], undefined, { user: state.players[2] });
  same(own.find((s) => s.name === board).value, 2, 'own statistic');
});

step('leaderboard results with user keys and other statistics', async () => {
  same(await state.board.count(), 4, 'count');
  const rankings = await state.board.getResults({ selectUserKeys: ['username'], includeUserKeys: 'company',
    includeStatistics: [board2] });
  same(rankings.map((r) => r.rank), [0, 1, 2, 3], 'ranks');
  same(rankings[2].user.get('username'), state.players[2].get('username'), 'username');
  same(rankings[2].user.get('company').get('name'), 'LeanCloud', 'included company');
  same(rankings[2].includedStatistics.map((s) => [s.name, s.value]), [[board2, -2]], 'included statistics');
  await refused(state.board.getResults({ includeStatistics: ['fake'] }), 'an unknown statistic');
});

step('leaderboard results around a user', async () => {
  const around = await state.board.getResultsAroundUser({ limit: 3 }, { user: state.players[2] });
  same(around.map((r) => r.rank), [1, 2, 3], 'around self');
  same(around[1].user.get('username'), undefined, 'no user keys unless asked');
  const aroundOther = await state.board.getResultsAroundUser(state.players[1], { limit: 3 }, { user: state.players[2] });
  same(aroundOther.map((r) => r.value), [0, 1, 2], 'around another user');
});

step('leaderboard delete statistics, reset and archives', async () => {
  await AV.Leaderboard.deleteStatistics(state.players[2], board, { user: state.players[2] });
  same((await state.board.getResults()).length, 3, 'left on the board');
  const reset = await state.board.reset(master);
  same(reset.version, 1, 'version');
  const archives = await state.board.getArchives(undefined, master);
  same(archives.map((a) => [a.version, a.status]), [[0, 'completed']], 'archives');
  check(archives[0].activatedAt instanceof Date && archives[0].deactivatedAt instanceof Date, 'archive dates');
  same((await state.board.getResults({ version: 0 })).length, 3, 'the archived version');
  await state.board.destroy(master);
  await AV.Leaderboard.createWithoutData(board2).destroy(master);
  await refused(AV.Leaderboard.getLeaderboard(board), 'a deleted leaderboard');
});

step('authData login with failOnNotExist creates nobody', async () => {
  const authData = { id: `anon${Date.now()}${Math.random().toString(36).slice(2)}` };
  const error = await refused(AV.User.loginWithAuthData(authData, 'anonymous', { failOnNotExist: true }),
    'an unknown account');
  same(error.code, 211, 'code');
  check(/Could not find user/.test(error.message), `message: ${error.message}`);
  const user = await AV.User.loginWithAuthData(authData, 'anonymous');
  const again = await AV.User.loginWithAuthData(authData, 'anonymous', { failOnNotExist: true });
  same(again.id, user.id, 'the same user');
  await AV.User.logOut();
});

await run();
