"""blinker signals around every write, mirroring the server's hooks.

The sender is the model class; receivers get the instance as ``instance=``. An exception raised by a
``before_*`` receiver aborts the write before any request is sent. Bulk and queryset writes send them
once per object.

>>> from leanorm import signals
>>> @signals.before_save.connect
... def stamp(sender, instance, **kw):
...     pass
"""
from __future__ import annotations

from blinker import Namespace

__all__ = ["before_save", "after_save", "before_update", "after_update", "before_delete", "after_delete",
           "post_init", "logged_in", "logged_out"]

_signals = Namespace()

#: before a new object is created (``instance=``)
before_save = _signals.signal("before_save")
#: after a new object was created
after_save = _signals.signal("after_save")
#: before an existing object is updated (``instance=``, ``changed=`` the wire keys being sent)
before_update = _signals.signal("before_update")
#: after an existing object was updated
after_update = _signals.signal("after_update")
#: before an object is deleted
before_delete = _signals.signal("before_delete")
#: after an object was deleted
after_delete = _signals.signal("after_delete")
#: after an instance was built, by user code or from a backend answer
post_init = _signals.signal("post_init")
#: a user got a new session (signup, login, become, refresh_session_token): ``instance=`` the user,
#: carrying its session token
logged_in = _signals.signal("logged_in")
#: a user's session ended (``instance=``, ``session_token=`` the token that ended)
logged_out = _signals.signal("logged_out")
