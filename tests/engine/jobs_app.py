"""An Engine with background jobs, for ``leanorm serve --engine`` (``test_jobs``): one that writes and
answers, one that fails, one that holds its slot until the test opens a gate."""
import time

import leanorm
from leanorm import IntegerField, Model, StringField
from leanorm.engine import Engine, reject

engine = Engine()


class JobTally(Model):
    label = StringField()
    count = IntegerField()


class JobGate(Model):
    name = StringField()


@engine.job("tally")
def tally(label, count=1):
    with leanorm.using_master():
        JobTally.objects.create(label=label, count=count)
    return f"counted {count} {label}"


@engine.job("refuses")
def refuses():
    reject("nothing to do today", 3001)


@engine.job("held")
def held(gate):
    """Runs until a JobGate named ``gate`` exists (at most a minute: a test that fails must not leave it)."""
    with leanorm.using_master():
        for _ in range(600):
            if JobGate.objects.filter(name=gate).exists():
                return "released"
            time.sleep(0.1)
    return "gave up"
