"""Models the engine tests declare hooks for (class names of their own, so other suites are unaffected)."""
from leanorm import IntegerField, ListField, Model, StringField


class EngineNote(Model):
    title = StringField(max_length=20)
    views = IntegerField(default=0)
    tags = ListField(StringField())


class EngineProbe(Model):
    """Saved through the real Parse Server in test_parse_webhooks."""

    title = StringField()
    body = StringField()
    score = IntegerField()
