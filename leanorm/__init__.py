"""leanorm: a Django-style ORM for the LeanCloud REST protocol, speaking the Parse Server dialect too,
with an embedded SQLite backend for offline use.

>>> import leanorm
>>> client = leanorm.connect("local://:memory:")
"""
import importlib
import importlib.metadata
from typing import Any

from . import errors, signals
from .acl import ACL
from .auth import Role, User, as_user
from .transactions import atomic
from .auth_context import current_user, using_master
from .client import Client
from .config import connect, get_client, using
from .fields import (BooleanField, BytesField, DateTimeField, DictField, Field, FloatField, GeoPointField,
                     IntegerField, ListField, PointerField, PolygonField, StringField)
from .files import File, FileField
from .protocol.geo import GeoPoint, Polygon
from .identity import session
from .models import Model, new_object_id
from .operations import F
from .relations import RelationField
from .query import Avg, Count, Manager, Max, Min, Q, QuerySet, Sum, TextSearch
from .transport import request_timeout as timeout

__version__ = importlib.metadata.version("leanorm")  # one source: setup.cfg

from . import push  # noqa: E402  (leanorm.push.send; registers Installation and Notification)
from . import live  # noqa: E402  (leanorm.live.listen; websockets itself loads when a live query connects)


def __getattr__(name: str) -> Any:
    """``leanorm.engine`` (cloud code, server side) is imported on first use: a client has no need of it."""
    if name == "engine":
        return importlib.import_module(".engine", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "connect", "get_client", "using", "using_master", "atomic", "current_user", "as_user", "Client",
    "User", "Role", "ACL", "RelationField", "File", "FileField",
    "Model", "Manager", "QuerySet", "Q", "F", "Sum", "Count", "Avg", "Min", "Max", "TextSearch", "GeoPoint",
    "Polygon", "signals", "errors", "live",
    "Field", "StringField", "IntegerField", "FloatField", "BooleanField", "DateTimeField", "ListField",
    "DictField", "PointerField", "GeoPointField", "PolygonField", "BytesField", "session", "timeout", "new_object_id",
]
