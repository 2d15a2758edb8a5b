"""Users, sessions, ACL and roles on every backend."""
import uuid

import pytest

import leanorm
from leanorm import ACL, Role, User, as_user
from leanorm.errors import (AuthenticationFailed, EmailTaken, InvalidSession,
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


def test_reloading_a_logged_in_user_keeps_its_session(client):
    user = User.signup(username=unique(), password="s3cret!")
    token = user.session_token
    with as_user(user):
        assert user in list(User.objects.filter(id=user.id))  # the same instance, refreshed
    assert user.session_token == token
    assert user.refresh().session_token == token
    with as_user(user):
        assert User.objects.get(id=user.id) is user


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


def test_every_read_brings_the_acl(client):
    """LeanCloud returns an object's ACL only with ``returnACL=true``: leanorm asks on every read (and a
    migration copies ACLs), the embedded backend answers like LeanCloud in its dialect."""
    post = Post(title="acl kept")
    post.acl = ACL({"*": {"read": True}, "role:editors": {"write": True}})
    post.save()
    client.identity_map.clear()
    again = Post.objects.get(id=post.id)
    assert again.acl.get_role_write_access("editors") and again.acl.get_public_read_access()
    assert [p.id for p in Post.objects.filter(id=post.id) if p.acl.get_role_write_access("editors")] == [post.id]
    if client.backend == "embedded":
        bare = client.transport.inner.server.handle(
            "GET", f"/1.1/classes/Post/{post.id}", {}, {"X-LC-Id": client.app_id, "X-LC-Key": client.app_key})
        assert b'"ACL"' not in bare.body
