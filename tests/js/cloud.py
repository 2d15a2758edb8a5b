"""The cloud code the JavaScript scenarios call (``leanorm serve --engine tests.js.cloud:engine``)."""
import leanorm
from leanorm.engine import Engine

engine = Engine()


@engine.define
def hello(name="world"):
    user = leanorm.current_user()
    return f"hello {name} from {user.username if user else 'nobody'}"


@engine.define
def add(a=0, b=0):
    return {"sum": a + b}


@engine.job("tally")
def tally(label="", count=1):
    """A background job (Parse's ``Parse.Cloud.startJob``): what it returns is its status message."""
    return f"counted {count} {label}"
