"""An Engine whose hooks and functions read and write through the ORM, for ``leanorm serve --engine``
(``test_serve_engine``): what they write must land in the served database, as their caller."""
import leanorm
from leanorm import IntegerField, Model, PointerField, StringField, User
from leanorm.engine import Engine, reject

engine = Engine()


class ServedPost(Model):
    title = StringField()


class ServedAudit(Model):
    note = StringField()
    posts = IntegerField()
    by = PointerField(User)


@engine.after_save(ServedPost)
def audit(post):
    user = leanorm.current_user()
    ServedAudit.objects.create(note=f"saved {post.title}", posts=ServedPost.objects.count(), by=user)


@engine.define
def nothing():
    """A function that returns nothing."""


@engine.define
def audits():
    with leanorm.using_master():
        return sorted(a.note for a in ServedAudit.objects.all())


class ServedCounter(Model):
    """An after_update hook saves the object it was called for (a ported app's habit)."""

    hits = IntegerField()
    stamped = IntegerField()


@engine.after_update(ServedCounter)
def stamp(counter):
    counter.stamped = (counter.stamped or 0) + 1
    counter.save()


class ServedQuiet(Model):
    """Written only by the ``quiet`` function, which skips the hook that refuses everyone else."""

    note = StringField()


@engine.before_save(ServedQuiet)
def refuse_direct(obj):
    reject("only through the quiet function", code=3100)


@engine.define
def quiet(note):
    ServedQuiet(note=note).ignore_hook("beforeSave").save()  # no master key: LeanEngine's hook key
    return "kept"
