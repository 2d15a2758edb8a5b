"""The Engine of the app the SDK drives in ``app_patterns.py`` (``leanorm serve --engine
tests.sdk.app_engine:engine``): hooks and a function that read and write through the ORM."""
import leanorm
from leanorm import F, IntegerField, Model, PointerField, StringField, User
from leanorm.engine import Engine

engine = Engine()


class AppPost(Model):
    title = StringField()
    slug = StringField()
    votes = IntegerField(default=0)
    author = PointerField(User)


class AppAudit(Model):
    action = StringField()
    post = PointerField(AppPost)
    by = PointerField(User)


class AppBoard(Model):
    name = StringField()
    posts = IntegerField(default=0)


@engine.before_save(AppPost)
def slugify(post):
    post.slug = (post.title or "").strip().lower().replace(" ", "-")


@engine.after_save(AppPost)
def audit(post):
    """As the caller: the audit entry names who saved; as master: the board's counter (nobody may write it)."""
    AppAudit.objects.create(action="created", post=post, by=leanorm.current_user())
    with leanorm.using_master():
        board, _ = AppBoard.objects.get_or_create(name="main")
        AppBoard.objects.filter(id=board.id).update(posts=F("posts") + 1)


@engine.define
def board_summary():
    with leanorm.using_master():
        board = AppBoard.objects.get(name="main")
        return {"posts": AppPost.objects.count(), "audits": AppAudit.objects.count(), "board": board.posts}
