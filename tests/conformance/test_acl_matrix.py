"""Access decisions: who may get, query, count, update and delete an object, on every backend.

The matrix is public / user / role × read / write × get / query / count / update / delete, for an
anonymous caller, the user the ACL names, a member of a child role of the role the ACL names, and a
logged-in outsider. Each backend must make exactly the decisions the protocol defines (so the embedded
backend and Parse Server agree with each other). Error classes may differ by backend, so "denied" is
decided by behaviour: not found, an exception, a count of 0, or (for writes) the stored object
unchanged.
"""
import itertools
import threading
import uuid

import pytest

import leanorm
from leanorm import ACL, Role, User, as_user
from leanorm.errors import LeanCloudError


class Probe(leanorm.Model):
    """A class of its own: the other suites purge ``Post`` on the shared Parse Server at any time."""

    title = leanorm.StringField(required=True)
    score = leanorm.IntegerField(default=0)

    class Meta:
        class_name = "AclProbe"


GRANTS = ("public", "user", "role")
ACCESSES = ("read", "write")
ACTORS = ("anonymous", "owner", "member", "outsider")
OPERATIONS = ("get", "query", "count", "update", "delete")
READS = ("get", "query", "count")


def unique(prefix):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def people(client):
    """Three users; ``member`` is in a child role of ``parent``, so ACLs naming ``parent`` cover it."""
    users = {name: User.signup(username=unique(name), password="pw") for name in ("owner", "member", "outsider")}
    with leanorm.using_master():
        parent = Role.objects.create(name=unique("parent"))
        child = Role.objects.create(name=unique("child"))
        child.users.add(users["member"])
        parent.roles.add(child)  # the members of a role in parent.roles inherit parent's rights
    users["anonymous"] = None
    return users, parent


def probe_with(title, acl):
    post = Probe(title=title)
    post.acl = acl
    return post


def expected(grant, access, actor, operation):
    needed = "read" if operation in READS else "write"
    covered = {"public": set(ACTORS), "user": {"owner"}, "role": {"member"}}[grant]
    return access == needed and actor in covered


def attempt(operation, obj_id, client):
    """Whether the current caller was allowed ``operation`` on the Probe ``obj_id``, judged by behaviour."""
    if operation == "get":
        try:
            Probe._stub(obj_id, client).refresh()
            return True
        except LeanCloudError:
            return False
    if operation == "query":
        return [p.id for p in Probe.objects.filter(id=obj_id)] == [obj_id]
    if operation == "count":
        return Probe.objects.filter(id=obj_id).count() == 1
    target = Probe._stub(obj_id, client)
    try:
        if operation == "update":
            target.title = "changed"
            target.save()
        else:
            target.delete()
        raised = False
    except LeanCloudError:
        raised = True
    with leanorm.using_master():
        stored = Probe.objects.filter(id=obj_id).first()
    effect = stored is None if operation == "delete" else stored.title == "changed"
    assert effect != raised, f"{operation} raised={raised} but changed={effect}: neither a clean allow nor deny"
    return effect


def test_acl_matrix(client, people):
    users, parent = people
    cases = list(itertools.product(GRANTS, ACCESSES, ACTORS, OPERATIONS))
    principal = {"public": "*", "user": users["owner"].id, "role": f"role:{parent.name}"}
    objects = [probe_with("original", ACL({principal[g]: {a: True}})) for g, a, _, _ in cases]
    with leanorm.using_master():
        Probe.objects.bulk_create(objects)
    decisions, wanted = {}, {}
    for case, obj in zip(cases, objects):
        grant, access, actor, operation = case
        with as_user(users[actor]):
            decisions[case] = attempt(operation, obj.id, client)
        wanted[case] = expected(*case)
    wrong = {case: decisions[case] for case in cases if decisions[case] != wanted[case]}
    assert wrong == {}, f"{client.backend}: decisions differing from the protocol's (case: allowed): {wrong}"


def test_sixteen_threads_never_share_a_user(client):
    """16 threads, each logged in as its own user, interleave writes and reads: every request carries
    the thread's own token, and no thread ever reads another's private objects."""
    users = [User.signup(username=unique(f"th{i}_"), password="pw") for i in range(16)]
    seeds = {}
    for user in users:
        with as_user(user):
            seeds[user.id] = probe_with(f"m16 {user.id} seed", ACL({user.id: {"read": True, "write": True}})).save().id
    lock = threading.Lock()
    seen = []  # (thread ident, session token) of every request sent by a worker thread
    inner_send = client.transport.send

    def recording_send(request):
        token = request.headers.get("X-LC-Session") or request.headers.get("X-Parse-Session-Token")
        with lock:
            seen.append((threading.get_ident(), token))
        return inner_send(request)

    client.transport.send = recording_send
    barrier = threading.Barrier(len(users))
    failures, idents = [], {}

    def work(index, user):
        idents[user.id] = threading.get_ident()
        other = seeds[users[(index + 1) % len(users)].id]
        try:
            barrier.wait()
            with leanorm.using(client), as_user(user):
                mine = [seeds[user.id]]
                for round_ in range(6):
                    post = probe_with(f"m16 {user.id} {round_}", ACL({user.id: {"read": True, "write": True}})).save()
                    mine.append(post.id)
                    post.score = round_
                    post.save()
                    visible = {(p.id, p.title.split()[1]) for p in Probe.objects.filter(title__startswith="m16 ")}
                    if {owner for _, owner in visible} != {user.id} or {i for i, _ in visible} != set(mine):
                        failures.append((user.username, "query", sorted(visible)))
                    if Probe.objects.filter(title__startswith="m16 ").count() != len(mine):
                        failures.append((user.username, "count"))
                    try:
                        Probe._stub(other, client).refresh()
                        failures.append((user.username, "read another's private object", other))
                    except LeanCloudError:
                        pass
                    if leanorm.current_user() is not user:
                        failures.append((user.username, "current_user"))
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            failures.append((user.username, repr(exc)))

    threads = [threading.Thread(target=work, args=(i, u)) for i, u in enumerate(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.transport.send = inner_send
    assert failures == []
    tokens_by_thread = {}
    for ident, token in seen:
        tokens_by_thread.setdefault(ident, set()).add(token)
    assert {ident: tokens for ident, tokens in tokens_by_thread.items()} == {
        idents[u.id]: {u.session_token} for u in users}
