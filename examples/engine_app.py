"""A deployable LeanEngine / Parse webhook app: cloud functions, hooks, and a Flask site with sessions.

Run it on the embedded backend (no account, no server; werkzeug comes with flask)::

    python examples/engine_app.py        # then: curl -X POST localhost:3000/login -d username=..&password=..

Run it against a LeanCloud app::

    LEANCLOUD_APP_ID=app LEANCLOUD_APP_KEY=key LEANCLOUD_APP_MASTER_KEY=master \\
    LEANCLOUD_APP_HOOK_KEY=hook SESSION_SECRET=change-me LEANORM_URL=leancloud://app:key@api.example.com \\
        python examples/engine_app.py

On LeanEngine, point the WSGI server at ``examples.engine_app:application`` (e.g.
``gunicorn -b 0.0.0.0:$LEANCLOUD_APP_PORT examples.engine_app:application``); LeanEngine sets the
``LEANCLOUD_*`` variables. Against Parse Server, also set ``LEANORM_PARSE_WEBHOOK_KEY`` (Parse's
``webhookKey``) and call ``engine.register_parse_webhooks("https://your.host")`` once with a master-key
client.
"""
from __future__ import annotations

import os

import flask

import leanorm
from leanorm import IntegerField, Model, StringField
from leanorm.engine import CookieSessionMiddleware, Engine, HttpsRedirectMiddleware, reject, updated_keys

class Review(Model):
    comment: StringField[str | None] = StringField()
    stars: IntegerField[int] = IntegerField(default=0)


engine = Engine()


@engine.define
def average_stars(movie: str) -> float:
    """``POST /1.1/functions/average_stars {"movie": "..."}`` -> ``{"result": 3.5}``."""
    stars = [r.stars for r in Review.objects.filter(comment__startswith=movie)]
    return sum(stars) / len(stars) if stars else 0.0


@engine.before_save(Review)
def shorten(review: Review) -> None:
    if not review.comment:
        reject("a review needs a comment")
    if len(review.comment) > 140:
        review.comment = review.comment[:137] + "..."


@engine.before_update(Review)
def no_new_stars(review: Review) -> None:
    if "stars" in updated_keys(review):
        reject("stars cannot be changed after posting", code=400)


@engine.on_login
def no_banned_users(user: leanorm.User) -> None:
    if user.extra.get("banned"):
        reject("this account is banned", code=403)


# LEANORM_URL, else the embedded backend in ./leanorm.sqlite3, which runs this engine's hooks in-process
# (LeanCloud and Parse Server call them over HTTP instead).
URL = os.environ.get("LEANORM_URL", leanorm.config.DEFAULT_URL)
leanorm.connect(URL, engine=engine if URL.startswith("local:") else None)

web = flask.Flask(__name__)


@web.route("/")
def home() -> dict:
    user = leanorm.current_user()  # the user of the session cookie, if any
    return {"hello": user.username if user else "stranger"}


@web.route("/login", methods=["POST"])
def login() -> dict:
    user = leanorm.User.login(flask.request.form["username"], flask.request.form["password"])
    return {"logged_in": user.username}  # the session cookie is set on this response


@web.route("/logout", methods=["POST"])
def logout() -> dict:
    user = leanorm.current_user()
    if user is not None:
        user.logout()  # the session cookie is cleared on this response
    return {"logged_in": None}


application = HttpsRedirectMiddleware(
    CookieSessionMiddleware(engine.wrap(web), os.environ.get("SESSION_SECRET", "change-me"), max_age=7 * 86400))

if __name__ == "__main__":
    from werkzeug.serving import run_simple
    run_simple("127.0.0.1", int(os.environ.get("LEANCLOUD_APP_PORT", 3000)),
               CookieSessionMiddleware(engine.wrap(web), os.environ.get("SESSION_SECRET", "change-me")))
