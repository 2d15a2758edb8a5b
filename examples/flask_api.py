"""A JSON API for a blog with Flask: leanorm models, validated and serialized by their marshmallow schemas.

    python examples/flask_api.py          # serves on http://127.0.0.1:5000

With no configuration it keeps its data in ./leanorm.sqlite3; set LEANORM_URL to run the same code
against Parse Server (parse://...) or LeanCloud (leancloud://...). Try:

    curl -X POST localhost:5000/authors -H 'Content-Type: application/json' -d '{"name": "Ann"}'
    curl -X POST localhost:5000/posts -H 'Content-Type: application/json' \\
         -d '{"title": "Hello", "author": "<the author objectId>", "tags": ["intro"]}'
    curl 'localhost:5000/posts?tag=intro'

Bad input is answered 422 with marshmallow's messages, field by field, and nothing is saved; the rules
are the models' own (``model_schema`` mirrors them, and runs the model's validation on load).
"""
import os
from typing import Any, Optional, Tuple

import arrow
import marshmallow
from flask import Flask, Response, jsonify, request

import leanorm
from leanorm import DateTimeField, IntegerField, ListField, Model, PointerField, StringField
from leanorm.errors import ObjectNotFound
from leanorm.marshal import model_schema


class Author(Model):
    name: StringField[str] = StringField(required=True, max_length=80)


class Post(Model):
    title: StringField[str] = StringField(required=True, min_length=1, max_length=120)
    body: StringField[Optional[str]] = StringField()
    status: StringField[str] = StringField(choices=["draft", "published"], default="draft")
    score: IntegerField[int] = IntegerField(default=0, min_value=0)
    tags: ListField[list[str]] = ListField(StringField(max_length=20), max_length=5)
    author: PointerField[Author] = PointerField(Author, required=True)
    published_at: DateTimeField[Optional[arrow.Arrow]] = DateTimeField(db_field="publishedAt")


AuthorSchema = model_schema(Author)
#: posts are dumped with their author inlined; the author is still sent as its objectId
PostSchema = model_schema(Post, nested=["author"])


def create_app() -> Flask:
    """The API: ``/authors`` and ``/posts`` (list, create, read, partial update, delete)."""
    app = Flask(__name__)

    @app.errorhandler(marshmallow.ValidationError)
    def invalid(exc: marshmallow.ValidationError) -> Tuple[Response, int]:
        return jsonify(errors=exc.messages), 422

    @app.errorhandler(ObjectNotFound)
    def not_found(exc: ObjectNotFound) -> Tuple[Response, int]:
        return jsonify(error="not found"), 404

    @app.get("/authors")
    def list_authors() -> Any:
        return jsonify(AuthorSchema(many=True).dump(Author.objects.order_by("name")))

    @app.post("/authors")
    def create_author() -> Any:
        author = AuthorSchema().load_instance(request.get_json(force=True)).save()
        return jsonify(AuthorSchema().dump(author)), 201

    @app.get("/posts")
    def list_posts() -> Any:
        posts = Post.objects.select_related("author").order_by("-score", "title")
        if "tag" in request.args:
            posts = posts.filter(tags=request.args["tag"])
        return jsonify(PostSchema(many=True).dump(posts[:100]))

    @app.post("/posts")
    def create_post() -> Any:
        post = PostSchema().load_instance(request.get_json(force=True)).save()
        return jsonify(PostSchema().dump(post)), 201

    @app.get("/posts/<post_id>")
    def read_post(post_id: str) -> Any:
        return jsonify(PostSchema().dump(Post.objects.get(id=post_id)))

    @app.patch("/posts/<post_id>")
    def update_post(post_id: str) -> Any:
        post = Post.objects.get(id=post_id)
        PostSchema(instance=post, partial=True).load_instance(request.get_json(force=True)).save()
        return jsonify(PostSchema().dump(post))

    @app.delete("/posts/<post_id>")
    def delete_post(post_id: str) -> Any:
        Post.objects.get(id=post_id).delete()
        return "", 204

    return app


if __name__ == "__main__":
    leanorm.connect(os.environ.get("LEANORM_URL", "local://leanorm.sqlite3"))
    create_app().run(host="127.0.0.1", port=5000)
