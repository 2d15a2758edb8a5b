"""An Engine whose before-hooks guard a wallet, for ``test_hooks_see_stored`` (in-process, and through
``leanorm serve --engine tests.security.hook_engine:engine``).

The hooks refuse what an app would refuse (a balance or a daily limit over 100, a banned tag, flags beyond a byte, a
wallet without a balance or without its ``keep`` tag, an owner or relation member called ``mallory``),
and copy the object they judged into ``seen``, so a test can compare it with what was stored.
"""
import json

from leanorm import (DateTimeField, DictField, IntegerField, ListField, Model, PointerField, RelationField,
                     StringField, User)
from leanorm.engine import Engine, current_request, reject, updated_keys

engine = Engine()

#: the keys of the hook's object that are not the wallet's fields
NOT_FIELDS = ("className", "_updatedKeys", "__before", "__after", "objectId", "createdAt", "updatedAt", "ACL",
              "seen")


class HookWallet(Model):
    balance = IntegerField()
    flags = IntegerField()
    tags = ListField(StringField())
    until = DateTimeField()
    owner = PointerField(User)
    members = RelationField(User)
    note = StringField()
    limits = DictField()
    seen = StringField()


def _members_named_mallory(change: object) -> bool:
    """Whether a Relation change (as the hook's object shows it) adds a user called mallory."""
    if not isinstance(change, dict):
        return False
    ops = change.get("ops") if change.get("__op") == "Batch" else [change]
    added = [p["objectId"] for op in ops or [] if op.get("__op") == "AddRelation" for p in op.get("objects", [])]
    return any(User.objects.get(id=user_id).username == "mallory" for user_id in added)


def judge(wallet: HookWallet) -> None:
    sent = current_request().payload["object"]
    if wallet.balance is None:
        reject("a wallet needs a balance", code=3100)
    if wallet.balance > 100:
        reject("balance over 100", code=3101)
    if "banned" in (wallet.tags or []) or "keep" not in (wallet.tags or []):
        reject("tags must hold keep and not banned", code=3102)
    if wallet.flags is not None and not 0 <= wallet.flags <= 0xFF:
        reject("flags are one byte", code=3103)
    if wallet.owner is not None and wallet.owner.username == "mallory":
        reject("mallory owns nothing", code=3104)
    if (wallet.limits or {}).get("daily", 0) > 100:
        reject("a daily limit over 100", code=3106)
    if _members_named_mallory(sent.get("members")):
        reject("mallory is no member", code=3105)
    wallet.seen = json.dumps({k: v for k, v in sent.items() if k not in NOT_FIELDS}, sort_keys=True)


@engine.before_save(HookWallet)
def before_save(wallet: HookWallet) -> None:
    judge(wallet)


@engine.before_update(HookWallet)
def before_update(wallet: HookWallet) -> None:
    if "note" in updated_keys(wallet) and wallet.note == "race":
        # another client's write lands while this hook runs (here, made by the hook itself)
        other = HookWallet.objects.get(id=wallet.id)
        other.note = "raced"
        other.save()
    judge(wallet)


@engine.before_delete(HookWallet)
def before_delete(wallet: HookWallet) -> None:
    if wallet.note == "pinned":
        reject("a pinned wallet stays", code=3106)
    if wallet.note == "race-delete":
        # another client pins the wallet while this hook runs
        other = HookWallet.objects.get(id=wallet.id)
        other.note = "pinned"
        other.save()
