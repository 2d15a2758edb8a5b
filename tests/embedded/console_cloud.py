"""Cloud code a console lists (``leanorm serve --engine tests.embedded.console_cloud:engine``)."""
from leanorm.engine import Engine

engine = Engine()


@engine.define
def hello(name: str = "world") -> str:
    return f"hello {name}"


@engine.job("nightly")
def nightly() -> str:
    return "done"


@engine.before_save("Listed")
def stamp(obj) -> None:
    obj.set("stamped", True)
