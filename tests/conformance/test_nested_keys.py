"""Operations on a key inside a DictField (sent as a dotted key, ``{"meta.views": {"__op": ...}}``), on
every backend: the key changes on the server, the rest of the field stays, the instance shows it."""
import pytest

from leanorm import F
from leanorm.errors import FieldError
from tests.models import Post


@pytest.fixture
def post(client):
    return Post.objects.create(title="nested", meta={"views": 1, "lang": "en"})


def test_increment_a_key_inside_a_dict(post):
    post.increment("meta__views", 2)
    assert post.meta == {"views": 3, "lang": "en"}  # the local guess
    post.save()
    assert post.meta == {"views": 3, "lang": "en"}
    assert Post.objects.get(id=post.id).meta == {"views": 3, "lang": "en"}


def test_another_writer_s_keys_are_kept(post):
    """Only the key is sent: a key another client wrote meanwhile stays (a whole-field save would lose it)."""
    other = Post.objects.get(id=post.id)
    other.meta = {**other.meta, "lang": "fr"}
    other.save()
    post.increment("meta__views").save()
    assert Post.objects.get(id=post.id).meta == {"views": 2, "lang": "fr"}


def test_unset_a_key_inside_a_dict(post):
    post.unset("meta__lang").save()
    assert post.meta == {"views": 1}
    assert Post.objects.get(id=post.id).meta == {"views": 1}


def test_update_with_f_on_a_key_inside_a_dict(post):
    assert Post.objects.filter(id=post.id).update(meta__views=F("meta__views") + 10) == 1
    assert Post.objects.get(id=post.id).meta == {"views": 11, "lang": "en"}


def test_a_key_inside_needs_a_dict_field_and_an_operation(post):
    with pytest.raises(FieldError):
        post.increment("score__x")
    with pytest.raises(FieldError):
        Post.objects.filter(id=post.id).update(meta__views=5)
