"""A JSON API for a blog with FastAPI, on leanorm's async API: no call is pushed to a thread pool.

    uvicorn --factory examples.fastapi_app:create_app     # serves on http://127.0.0.1:8000

With no configuration it keeps its data in ./leanorm.sqlite3; set LEANORM_URL to run the same code
against Parse Server (parse://...) or LeanCloud (leancloud://...). Try:

    curl -X POST localhost:8000/authors -H 'Content-Type: application/json' -d '{"name": "Ann"}'
    curl -X POST localhost:8000/posts -H 'Content-Type: application/json' \\
         -d '{"title": "Hello", "author": "<the author objectId>", "tags": ["intro"]}'
    curl 'localhost:8000/posts?tag=intro'
    curl -X POST localhost:8000/posts/<the post objectId>/like

Bad input is answered 422 with marshmallow's messages, field by field, and nothing is saved; the rules
are the models' own (``model_schema`` mirrors them). Loading checks that a pointed author exists (a
request): sync code like that runs with ``run_async``, which awaits its requests too. Each request is a
task of its own, so it works in a unit of work of its own (docs/async.md).
"""
import os
from typing import Any, Awaitable, Callable, List, Optional

import arrow
import marshmallow
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

import leanorm
from leanorm import DateTimeField, F, IntegerField, ListField, Model, PointerField, StringField
from leanorm.aio import run_async
from leanorm.client import Client
from leanorm.errors import ObjectNotFound
from leanorm.marshal import model_schema


class Author(Model):
    name: StringField[str] = StringField(required=True, max_length=80)


class Post(Model):
    title: StringField[str] = StringField(required=True, min_length=1, max_length=120)
    body: StringField[Optional[str]] = StringField()
    score: IntegerField[int] = IntegerField(default=0, min_value=0)
    tags: ListField[List[str]] = ListField(StringField(max_length=20), max_length=5)
    author: PointerField[Author] = PointerField(Author, required=True)
    published_at: DateTimeField[Optional[arrow.Arrow]] = DateTimeField(db_field="publishedAt")


AuthorSchema = model_schema(Author)
#: posts are dumped with their author inlined; the author is still sent as its objectId
PostSchema = model_schema(Post, nested=["author"])


def create_app(client: Optional[Client] = None) -> FastAPI:
    """The API: ``/authors`` and ``/posts`` (list, create, read, partial update, like, delete), on
    ``client`` (by default one connected to ``LEANORM_URL``, else ./leanorm.sqlite3)."""
    backend = client or leanorm.connect(os.environ.get("LEANORM_URL", "local://leanorm.sqlite3"), default=False)
    app = FastAPI()

    @app.middleware("http")
    async def on_the_backend(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        with leanorm.using(backend):  # the request's task, and what it awaits, talk to this backend
            return await call_next(request)

    @app.exception_handler(marshmallow.ValidationError)
    async def invalid(request: Request, exc: marshmallow.ValidationError) -> JSONResponse:
        return JSONResponse({"errors": exc.messages}, status_code=422)

    @app.exception_handler(ObjectNotFound)
    async def not_found(request: Request, exc: ObjectNotFound) -> JSONResponse:
        return JSONResponse({"error": "not found"}, status_code=404)

    @app.get("/authors")
    async def list_authors() -> Any:
        return AuthorSchema(many=True).dump([a async for a in Author.objects.order_by("name")])

    @app.post("/authors", status_code=201)
    async def create_author(request: Request) -> Any:
        author = AuthorSchema().load_instance(await request.json())  # no pointer to check: no request
        return AuthorSchema().dump(await author.asave())

    @app.get("/posts")
    async def list_posts(tag: Optional[str] = None) -> Any:
        posts = Post.objects.select_related("author").order_by("-score", "title")
        if tag is not None:
            posts = posts.filter(tags=tag)
        return PostSchema(many=True).dump([p async for p in posts[:100]])

    @app.post("/posts", status_code=201)
    async def create_post(request: Request) -> Any:
        post = await run_async(PostSchema().load_instance, await request.json())
        await post.asave()
        return PostSchema().dump(await Post.objects.select_related("author").aget(id=post.id))

    @app.get("/posts/{post_id}")
    async def read_post(post_id: str) -> Any:
        return PostSchema().dump(await Post.objects.select_related("author").aget(id=post_id))

    @app.patch("/posts/{post_id}")
    async def update_post(post_id: str, request: Request) -> Any:
        post = await Post.objects.select_related("author").aget(id=post_id)
        await (await run_async(PostSchema(instance=post, partial=True).load_instance, await request.json())).asave()
        return PostSchema().dump(await Post.objects.select_related("author").aget(id=post_id))

    @app.post("/posts/{post_id}/like")
    async def like(post_id: str) -> Any:
        # one atomic increment on the server: concurrent likes all count
        if not await Post.objects.filter(id=post_id).aupdate(score=F("score") + 1):
            raise ObjectNotFound(101, f"no post {post_id}")
        return {"score": (await Post.objects.aget(id=post_id)).score}

    @app.delete("/posts/{post_id}", status_code=204)
    async def delete_post(post_id: str) -> Response:
        await (await Post.objects.aget(id=post_id)).adelete()
        return Response(status_code=204)

    return app
