"""An embedded backend running cloud code refuses a transactional batch whole: nothing is written."""
from __future__ import annotations

import pytest

import leanorm
from leanorm.engine import Engine
from leanorm.errors import TransactionFailed
from tests.models import Post


def test_atomic_on_a_server_with_cloud_code_is_refused_whole():
    client = leanorm.connect("local://:memory:", default=False, engine=Engine())
    try:
        with leanorm.using(client):
            post = Post(title="a")
            with pytest.raises(TransactionFailed) as info:
                with leanorm.atomic():
                    post.save()
                    Post.objects.create(title="b")
            assert info.value.cause.code == 107 and "cloud code" in str(info.value)
            assert Post.objects.count() == 0 and post.id is None
            post.save()  # outside a block, writes go as before
            assert Post.objects.count() == 1
    finally:
        client.close()
