"""A stateful property test of the read rules over HTTP: random users' roles (with inheritance), object
ACLs, class-level permissions and protected fields; then reads through every path (find, get, count,
CQL, batch, include at two levels and of arrays, ``$inQuery``, ``$select``, ``$relatedTo``), the answers
of writes (``fetchWhenSave``/``new``, a computed value; batched or not) and File values expanded into
their ``_File`` objects (LeanCloud's answer; the files have random ACLs, ``get`` permission and
protected fields). An oracle written here from the rules decides what each caller may see; the server
must answer exactly that: never a row, a count or a field more (and, so the test cannot pass by
refusing everything, never less).

``LEANORM_PROPERTY_EXAMPLES`` sets the number of examples (default 200, about a minute for both dialects; a nightly run can take thousands).
"""
import json
import os
import uuid
from typing import Dict, FrozenSet, List, Optional, Set

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from tests.security.authz_client import Api, server  # noqa: F401 (fixture)
from tests.security.raw_http import OPEN_RULES

EXAMPLES = int(os.environ.get("LEANORM_PROPERTY_EXAMPLES", "200"))
USERS = 3
FIELDS = ("v", "secret")
OPERATIONS = ("find", "get", "count")
FILES = 3
#: fields of a ``_File`` object the examples hide
FILE_FIELDS = ("metaData", "mime_type", "name")
#: what a write answers of an object the caller may not read
META = {"objectId", "createdAt", "updatedAt"}


class Oracle:
    """The rules, restated independently of the server: principals, CLP, ACL, protected fields."""

    def __init__(self) -> None:
        self.user_ids: List[str] = []
        self.direct: Dict[str, Set[int]] = {}       # role name -> member users (indices)
        self.children: Dict[str, Set[str]] = {}     # role name -> roles whose members inherit it
        self.clp: Dict[str, dict] = {}
        self.acl: Dict[str, Dict[str, Optional[dict]]] = {}   # class -> objectId -> ACL (None: public)

    def principals(self, user: Optional[int]) -> FrozenSet[str]:
        if user is None:
            return frozenset({"*"})
        held = {name for name, members in self.direct.items() if user in members}
        while True:
            more = {parent for parent, kids in self.children.items() if kids & held} - held
            if not more:
                break
            held |= more
        return frozenset({"*", self.user_ids[user], *(f"role:{name}" for name in held)})

    def permitted(self, class_name: str, operation: str, user: Optional[int]) -> bool:
        setting = self.clp.get(class_name)
        if setting is None:  # no setting: open
            return True
        rule = setting.get(operation, {})  # a setting permits only what it names
        if rule.get("requiresAuthentication") and user is not None:
            return True
        return any(rule.get(p) for p in self.principals(user))

    def readable(self, class_name: str, object_id: str, user: Optional[int]) -> bool:
        acl = self.acl[class_name][object_id]
        return acl is None or any(acl.get(p, {}).get("read") for p in self.principals(user))

    def writable(self, class_name: str, object_id: str, user: Optional[int]) -> bool:
        acl = self.acl[class_name][object_id]
        return acl is None or any(acl.get(p, {}).get("write") for p in self.principals(user))

    def fetchable(self, class_name: str, object_id: str, user: Optional[int]) -> bool:
        """What a ``GET`` of the object would show the caller (a write answer too, a File value's file)."""
        return self.permitted(class_name, "get", user) and self.readable(class_name, object_id, user)

    def visible_ids(self, class_name: str, user: Optional[int]) -> Set[str]:
        return {i for i in self.acl[class_name] if self.readable(class_name, i, user)}

    def hidden(self, class_name: str, user: Optional[int]) -> Set[str]:
        config = self.clp.get(class_name, {}).get("protectedFields", {})
        mine = self.principals(user) | ({"authenticated"} if user is not None else set())
        lists = [set(fields) for principal, fields in config.items() if principal in mine]
        return set.intersection(*lists) if lists else set()


class ReadRules(RuleBasedStateMachine):
    """Random roles, objects and permissions over two fresh classes per example; every read rule checks
    the server's answer against the oracle. The users (and their sessions) are made once per test."""

    api: Api
    sessions: List[str]
    user_ids: List[str]
    role_ids: Dict[str, str]

    def __init__(self) -> None:
        super().__init__()
        self.oracle = Oracle()
        self.oracle.user_ids = self.user_ids
        tag = uuid.uuid4().hex[:8]
        self.classes = [f"PropA{tag}", f"PropB{tag}"]
        self.tag = tag
        self.objects: Dict[str, List[str]] = {c: [] for c in self.classes}
        for c in self.classes:
            self.oracle.acl[c] = {}
        self.oracle.acl["_File"] = {}
        self.files: List[str] = []
        self.file_of: Dict[str, str] = {}  # objectId -> the _File its ``file`` field names

    # -- what the callers are ------------------------------------------------------------------------------
    def principal_choices(self) -> List[str]:
        return ["*", *self.user_ids, *(f"role:{r}" for r in self.oracle.direct)]

    def acls(self) -> st.SearchStrategy:
        return st.dictionaries(st.sampled_from(self.principal_choices()),
                               st.fixed_dictionaries({"read": st.booleans(), "write": st.booleans()}), max_size=3)

    @initialize(data=st.data())
    def classes_exist(self, data: st.DataObject) -> None:
        if self.api.dialect == "leancloud":  # files first, so that every object names one
            self._files(data)
        for c in self.classes:  # one object each, so the class (and its schema) exists from the start
            self._create(c, None, 0, "s0")

    def _files(self, data: st.DataObject) -> None:
        """Files with random ACLs; ``_File``'s ``get`` permission and protected fields set anew."""
        for i in range(FILES):
            acl = data.draw(self.acls())
            self.files.append(self.api.master("POST", f"files/f{self.tag}{i}.txt", {
                "url": f"https://files.example/{self.tag}/{i}", "ACL": acl})["objectId"])
            self.oracle.acl["_File"][self.files[-1]] = acl
        get = data.draw(st.none() | st.dictionaries(st.sampled_from(self.principal_choices()), st.just(True),
                                                    max_size=2) | st.just({"requiresAuthentication": True}))
        hidden = data.draw(st.lists(st.sampled_from(FILE_FIELDS), unique=True))
        # the read rules drawn, every other operation open (a setting closes what it does not name)
        clp: dict = {**OPEN_RULES, "protectedFields": {"*": hidden}, **({"get": get} if get is not None else {})}
        self.api.master("PUT", "schemas/_File", {"classLevelPermissions": clp})
        self.oracle.clp["_File"] = clp

    @rule(members=st.sets(st.integers(0, USERS - 1)), data=st.data())
    def add_role(self, members: Set[int], data: st.DataObject) -> None:
        name = f"R{self.tag}{len(self.oracle.direct)}"
        kids = data.draw(st.sets(st.sampled_from(sorted(self.oracle.direct)))) if self.oracle.direct else set()
        body = {"name": name, "ACL": {"*": {"read": True}}}
        if members:
            body["users"] = {"__op": "AddRelation", "objects": [
                {"__type": "Pointer", "className": "_User", "objectId": self.user_ids[m]} for m in sorted(members)]}
        if kids:
            body["roles"] = {"__op": "AddRelation", "objects": [
                {"__type": "Pointer", "className": "_Role", "objectId": self.role_ids[k]} for k in sorted(kids)]}
        self.role_ids[name] = self.api.master("POST", "roles", body)["objectId"]
        self.oracle.direct[name], self.oracle.children[name] = set(members), set(kids)

    def _create(self, class_name: str, acl: Optional[dict], v: int, secret: str) -> None:
        body = {"v": v, "secret": secret}
        other = self.classes[1 - self.classes.index(class_name)]
        if self.objects[other]:
            target = self.objects[other][v % len(self.objects[other])]
            body["ptr"] = {"__type": "Pointer", "className": other, "objectId": target}
            body["ptrs"] = [body["ptr"], {"__type": "Pointer", "className": other, "objectId": self.objects[other][0]}]
            body["rel"] = {"__op": "AddRelation", "objects": [body["ptr"]]}
        if self.files:
            body["file"] = {"__type": "File", "id": self.files[v % len(self.files)]}
        if acl is not None:
            body["ACL"] = acl
        object_id = self.api.master("POST", f"classes/{class_name}", body)["objectId"]
        self.objects[class_name].append(object_id)
        self.oracle.acl[class_name][object_id] = acl
        if self.files:
            self.file_of[object_id] = body["file"]["id"]

    @rule(which=st.integers(0, 1), v=st.integers(0, 9), data=st.data())
    def add_object(self, which: int, v: int, data: st.DataObject) -> None:
        self._create(self.classes[which], data.draw(st.none() | self.acls()), v, f"s{v}")

    @rule(which=st.integers(0, 1), data=st.data())
    def set_permissions(self, which: int, data: st.DataObject) -> None:
        principal_rule = st.dictionaries(st.sampled_from(self.principal_choices()), st.just(True), max_size=2) | \
            st.just({"requiresAuthentication": True})
        # the read rules drawn, every other operation open (a setting closes what it does not name)
        clp = {**OPEN_RULES, **data.draw(st.dictionaries(st.sampled_from(OPERATIONS), principal_rule, max_size=3))}
        protected = data.draw(st.dictionaries(st.sampled_from([*self.principal_choices(), "authenticated"]),
                                              st.lists(st.sampled_from(FIELDS), unique=True), max_size=2))
        if protected:
            clp["protectedFields"] = protected
        class_name = self.classes[which]
        self.api.master("PUT", f"schemas/{class_name}", {"classLevelPermissions": clp})
        self.oracle.clp[class_name] = clp

    # -- reads -----------------------------------------------------------------------------------------------
    def _as(self, user: Optional[int]) -> Optional[str]:
        return None if user is None else self.sessions[user]

    def _expect_rows(self, class_name: str, user: Optional[int], status: int, answer: dict,
                     ids: Set[str], queried: FrozenSet[str] = frozenset()) -> None:
        hidden = self.oracle.hidden(class_name, user)
        if not self.oracle.permitted(class_name, "find", user) or hidden & queried:
            assert status >= 400 and answer["code"] == 119, (status, answer)
            return
        assert status == 200, answer
        rows = answer["results"]
        assert {r["objectId"] for r in rows} == ids, (class_name, user, rows)
        for r in rows:
            assert not hidden & set(r), (hidden, r)
            assert set(FIELDS) - hidden <= set(r), (hidden, r)
            self._expect_file(r, user)

    def _expect_file(self, obj: dict, user: Optional[int]) -> None:
        """An object's File value is its ``_File`` object when the caller may fetch that, as it was stored
        otherwise."""
        if obj["objectId"] not in self.file_of:
            return
        file_id, value = self.file_of[obj["objectId"]], obj["file"]
        if self.oracle.fetchable("_File", file_id, user):
            assert value["objectId"] == file_id and value["url"].startswith("https://files.example/"), value
            hidden = self.oracle.hidden("_File", user)
            assert not hidden & set(value) and set(FILE_FIELDS) - hidden <= set(value), (hidden, value)
        else:
            assert value == {"__type": "File", "id": file_id}, value

    def _expect_expanded(self, class_name: str, target: dict, user: Optional[int]) -> None:
        """A pointer ``include`` named: the object when the caller may find it, else still the pointer."""
        o = self.oracle
        expanded = target["__type"] == "Object"
        assert expanded == (o.permitted(class_name, "find", user) and
                            target["objectId"] in o.visible_ids(class_name, user)), (target, class_name)
        if expanded:
            hidden = o.hidden(class_name, user)
            assert not hidden & set(target) and set(FIELDS) - hidden <= set(target), (hidden, target)
            self._expect_file(target, user)

    @rule(which=st.integers(0, 1), user=st.none() | st.integers(0, USERS - 1), on=st.sampled_from(FIELDS),
          batched=st.booleans())
    def find(self, which: int, user: Optional[int], on: str, batched: bool) -> None:
        class_name = self.classes[which]
        where = {on: {"$exists": True}}
        params = {"where": json.dumps(where), "limit": "1000"}
        if batched:
            prefix = "/1.1" if self.api.dialect == "leancloud" else "/parse"
            item = self.api.ok("POST", "batch", {"requests": [{"method": "GET", "path": f"{prefix}/classes/{class_name}",
                                                               "body": params}]}, session=self._as(user))[0]
            status, answer = (200, item["success"]) if "success" in item else (403, item["error"])
        else:
            status, answer = self.api.call("GET", f"classes/{class_name}", params=params, session=self._as(user))
        self._expect_rows(class_name, user, status, answer, self.oracle.visible_ids(class_name, user),
                          frozenset({on}))

    @rule(which=st.integers(0, 1), user=st.none() | st.integers(0, USERS - 1), data=st.data())
    def get(self, which: int, user: Optional[int], data: st.DataObject) -> None:
        class_name = self.classes[which]
        object_id = data.draw(st.sampled_from(self.objects[class_name]))
        status, answer = self.api.call("GET", f"classes/{class_name}/{object_id}", session=self._as(user))
        if not self.oracle.permitted(class_name, "get", user):
            assert answer.get("code") == 119, answer
        elif not self.oracle.readable(class_name, object_id, user):
            # as for a missing object: LeanCloud answers an empty object, Parse error 101
            assert (status, answer) == (200, {}) if self.api.dialect == "leancloud" else \
                (status, answer.get("code")) == (404, 101), answer
        else:
            assert status == 200 and not self.oracle.hidden(class_name, user) & set(answer), answer

    @rule(which=st.integers(0, 1), user=st.none() | st.integers(0, USERS - 1), cql=st.booleans())
    def count(self, which: int, user: Optional[int], cql: bool) -> None:
        class_name = self.classes[which]
        if cql and self.api.dialect == "leancloud":
            status, answer = self.api.call("GET", "cloudQuery", params={"cql": f"select count(*) from {class_name}"},
                                           session=self._as(user))
        else:
            status, answer = self.api.call("GET", f"classes/{class_name}", params={"count": "1", "limit": "0"},
                                           session=self._as(user))
        if not self.oracle.permitted(class_name, "count", user):
            assert answer.get("code") == 119, answer
        else:
            assert answer["count"] == len(self.oracle.visible_ids(class_name, user)), answer

    @rule(which=st.integers(0, 1), user=st.none() | st.integers(0, USERS - 1),
          how=st.sampled_from(["inQuery", "notInQuery", "select", "dontSelect", "include", "relatedTo", "cql"]), key=st.sampled_from(FIELDS))
    def through_another_class(self, which: int, user: Optional[int], how: str, key: str) -> None:
        outer, inner = self.classes[which], self.classes[1 - which]
        o = self.oracle
        inner_ids = o.visible_ids(inner, user)
        inner_ok = o.permitted(inner, "find", user)
        outer_ids = o.visible_ids(outer, user)
        session = self._as(user)
        ptrs = self._pointers(outer)
        if how == "cql":
            if self.api.dialect != "leancloud":
                return
            status, answer = self.api.call("GET", "cloudQuery", params={
                "cql": f"select * from {outer} where {key} is exists"}, session=session)
            self._expect_rows(outer, user, status, answer, outer_ids, frozenset({key}))
            return
        if how == "include":  # two levels (outer -> inner -> outer) and arrays of pointers
            status, answer = self.api.call("GET", f"classes/{outer}", params={
                "include": "ptr,ptrs,ptr.ptr", "limit": "1000"}, session=session)
            self._expect_rows(outer, user, status, answer, outer_ids)
            if status == 200:
                for row in answer["results"]:
                    for target in ([row["ptr"], *row["ptrs"]] if "ptr" in row else []):
                        self._expect_expanded(inner, target, user)
                    if row.get("ptr", {}).get("ptr"):
                        self._expect_expanded(outer, row["ptr"]["ptr"], user)
            return
        if how == "relatedTo":  # rows of inner in a relation of an outer object: the owner must be readable
            owner = self.objects[outer][-1]
            where = {"$relatedTo": {"object": {"__type": "Pointer", "className": outer, "objectId": owner},
                                    "key": "rel"}}
            status, answer = self.api.call("GET", f"classes/{inner}", params={"where": json.dumps(where)},
                                           session=session)
            if not o.permitted(outer, "find", user) and o.permitted(inner, "find", user):
                assert answer.get("code") == 119, answer
                return
            members = {ptrs[owner]} if owner in ptrs and owner in outer_ids else set()
            self._expect_rows(inner, user, status, answer, members & inner_ids)
            return
        if how in ("inQuery", "notInQuery"):
            where = {"ptr": {f"${how}": {"className": inner, "where": {key: {"$exists": True}}}}}
            queried_inner = frozenset({key})
            hits = {i for i in outer_ids if i in ptrs and ptrs[i] in inner_ids}
            matched = hits if how == "inQuery" else outer_ids - hits  # no pointer: not in the inner rows
        else:
            where = {"secret": {f"${how}": {"query": {"className": inner, "where": {}}, "key": key}}}
            queried_inner = frozenset({key})
            values = {self._value(inner, i, key) for i in inner_ids}
            hits = {i for i in outer_ids if self._value(outer, i, "secret") in values}
            matched = hits if how == "select" else outer_ids - hits
        status, answer = self.api.call("GET", f"classes/{outer}", params={"where": json.dumps(where)},
                                       session=session)
        outer_queried = frozenset({"secret"}) if how in ("select", "dontSelect") else frozenset()
        if o.permitted(outer, "find", user) and not o.hidden(outer, user) & outer_queried and (
                not inner_ok or o.hidden(inner, user) & queried_inner):
            assert answer.get("code") == 119, answer
            return
        self._expect_rows(outer, user, status, answer, matched, outer_queried)

    @rule(which=st.integers(0, 1), user=st.none() | st.integers(0, USERS - 1), data=st.data(),
          whole=st.sampled_from([None, "fetchWhenSave", "new"]), batched=st.booleans())
    def write(self, which: int, user: Optional[int], data: st.DataObject, whole: Optional[str],
              batched: bool) -> None:
        """A write's answer (the whole object, or the value an operation computed) shows what a GET would."""
        class_name = self.classes[which]
        object_id = data.draw(st.sampled_from(self.objects[class_name]))
        path, body = f"classes/{class_name}/{object_id}", {"v": {"__op": "Increment", "amount": 0}}
        params = {whole: "true"} if whole else {}
        if batched:
            prefix = "/1.1/" if self.api.dialect == "leancloud" else "/parse/"
            item = self.api.ok("POST", "batch", {"requests": [{"method": "PUT", "path": prefix + path, "body": body,
                                                               "params": params}]}, session=self._as(user))[0]
            status, answer = (200, item["success"]) if "success" in item else (404, item["error"])
        else:
            status, answer = self.api.call("PUT", path, body, params=params, session=self._as(user))
        o = self.oracle
        if not o.writable(class_name, object_id, user):
            assert (status, answer.get("code")) == (404, 101), answer
            return
        assert status == 200, answer
        if not o.fetchable(class_name, object_id, user):
            assert set(answer) <= META, answer
            return
        hidden = o.hidden(class_name, user)
        assert not hidden & set(answer), (hidden, answer)
        assert (set(FIELDS) if whole else {"v"}) - hidden <= set(answer), (hidden, answer)

    def _pointers(self, class_name: str) -> Dict[str, str]:
        rows = self.api.master("GET", f"classes/{class_name}", params={"limit": "1000"})["results"]
        return {r["objectId"]: r["ptr"]["objectId"] for r in rows if "ptr" in r}

    def _value(self, class_name: str, object_id: str, key: str) -> object:
        return self.api.master("GET", f"classes/{class_name}/{object_id}")[key]


@pytest.mark.parametrize("dialect", ["leancloud", "parse"])
def test_no_read_returns_more_than_the_rules_allow(server, dialect):  # noqa: F811 (fixture)
    api = Api(server, dialect)
    users = [api.signup() for _ in range(USERS)]
    ReadRules.api, ReadRules.sessions = api, [u["sessionToken"] for u in users]
    ReadRules.user_ids = [u["objectId"] for u in users]
    ReadRules.role_ids = {}
    run_state_machine_as_test(ReadRules, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=12, deadline=None,
        suppress_health_check=list(HealthCheck)))
