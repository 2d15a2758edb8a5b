"""Users, sessions, ACL and roles on every backend."""
import threading
import uuid

import pytest

import leanorm
from leanorm import ACL, Role, User, as_user
from leanorm.errors import (AuthenticationFailed, EmailTaken, InvalidSession, LeanCloudError, ObjectNotFound,
                            UsernameTaken)
from tests.models import Post


def unique(prefix="u"):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def test_signup_login_become_logout(client):
    name = unique()
    user = User.signup(username=name, password="s3cret!", email=f"{name}@example.com")
    assert user.id and user.session_token and user.is_authenticated()
    assert "password" not in user._data
    again = User.login(name, "s3cret!")
    assert again.id == user.id and again.session_token
    by_mail = User.login(email=f"{name}@example.com", password="s3cret!")
    assert by_mail.id == user.id
    token = again.session_token
    me = User.become(token)
    assert me.username == name and me.id == user.id
    again.logout()
    assert not again.is_authenticated()
    with pytest.raises(InvalidSession):
        User.become(token)  # the session ended on the server


def test_wrong_credentials_and_taken_names_are_typed(client):
    name = unique()
    User.signup(username=name, password="pw", email=f"{name}@example.com")
    with pytest.raises(AuthenticationFailed):
        User.login(name, "wrong")
    with pytest.raises(UsernameTaken) as info:
        User.signup(username=name, password="pw")
    assert info.value.code == 202
    with pytest.raises(EmailTaken) as info:
        User.signup(username=unique(), password="pw", email=f"{name}@example.com")
    assert info.value.code == 203
    with pytest.raises(InvalidSession):
        User.become("r:not-a-real-token")


def test_private_object_is_visible_to_its_owner_only(client):
    ann = User.signup(username=unique("ann"), password="pw")
    bob = User.signup(username=unique("bob"), password="pw")
    with as_user(ann):
        post = Post(title="ann's secret")
        acl = ACL()
        acl.set_read_access(ann, True)
        acl.set_write_access(ann, True)
        post.acl = acl
        post.save()
        assert Post.objects.get(id=post.id).title == "ann's secret"
    with as_user(bob):
        assert not Post.objects.filter(id=post.id).exists()
        with pytest.raises(Post.DoesNotExist):
            Post.objects.get(id=post.id)
    assert Post.objects.filter(title="ann's secret").count() == 0  # anonymous
    with leanorm.using_master():
        assert Post.objects.get(id=post.id).acl.get_read_access(ann)


def test_role_membership_grants_access(client):
    editor = User.signup(username=unique("ed"), password="pw")
    outsider = User.signup(username=unique("out"), password="pw")
    with leanorm.using_master():
        role = Role(name=unique("editors"))
        role.save()
        role.users.add(editor)
        assert [u.id for u in role.users.all()] == [editor.id]
    post = Post(title="for editors")
    acl = ACL()
    acl.set_role_read_access(role, True)
    post.acl = acl
    post.save()
    with as_user(editor):
        assert Post.objects.filter(id=post.id).exists()
    with as_user(outsider):
        assert not Post.objects.filter(id=post.id).exists()


def test_default_acl_from_meta(client):
    owner = User.signup(username=unique(), password="pw")

    class Diary(leanorm.Model):
        text = leanorm.StringField()

        class Meta:
            default_acl = staticmethod(lambda obj: ACL({leanorm.current_user().id: {"read": True, "write": True}}))

    with as_user(owner):
        entry = Diary.objects.create(text="dear diary")
        assert Diary.objects.get(id=entry.id).text == "dear diary"
    assert not Diary.objects.filter(id=entry.id).exists()


def test_threads_never_see_each_others_user(client):
    users = [User.signup(username=unique(f"t{i}_"), password="pw") for i in range(8)]
    for user in users:
        with as_user(user):
            post = Post(title=f"private of {user.username}")
            post.acl = ACL({user.id: {"read": True, "write": True}})
            post.save()
    sent_tokens = []
    lock = threading.Lock()
    inner_send = client.transport.send

    def recording_send(request):
        token = request.headers.get("X-LC-Session") or request.headers.get("X-Parse-Session-Token")
        with lock:
            sent_tokens.append((threading.get_ident(), token))
        return inner_send(request)

    client.transport.send = recording_send
    failures = []
    barrier = threading.Barrier(len(users))

    def work(user):
        ident = threading.get_ident()
        try:
            barrier.wait()
            with leanorm.using(client), as_user(user):
                for _ in range(5):
                    titles = [p.title for p in Post.objects.filter(title__startswith="private of")]
                    if titles != [f"private of {user.username}"]:
                        failures.append((user.username, titles))
                    assert leanorm.current_user() is user
        except Exception as exc:  # pragma: no cover - reported below
            failures.append((user.username, repr(exc)))
        with lock:
            mine = {tok for who, tok in sent_tokens if who == ident}
        if mine != {user.session_token}:
            failures.append((user.username, "tokens", mine))

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    client.transport.send = inner_send
    assert failures == []
