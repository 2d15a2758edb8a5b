"""Random requests for the black-box HTTP fuzzer (``test_http_fuzz.py``): any route of either dialect,
any caller, any JSON (and some bytes that are not JSON), as a client with the app's keys can send them.

Paths and values name the fuzzer's world (its users, objects and files) by placeholder (``@A`` is user
A's objectId, ``@secret`` an object only A may read...): the world fills them in when the request is
sent (:meth:`FuzzRequest.resolve`), so the strategies do not depend on what a server answered.
"""
from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, Callable, Dict, List, Optional

from hypothesis import strategies as st

#: who sends a request: the keys and session it carries (``World.headers`` spells each in a dialect)
CALLERS = ("none", "app", "wrong-key", "other-app", "master", "wrong-master", "B", "A", "stale", "junk-token",
           "signed", "bad-signature", "js-key")
#: placeholders ``World.fill`` replaces with the world's ids and names
IDS = ("@A", "@B", "@obj", "@secret", "@file", "@role", "@session", "zz", "", "0" * 70, "x%00y", "..", "me",
       "9" * 30, "role:Admin", "*")
CLASSES = ("Fz", "Secret", "Fz", "Secret", "Fz2", "_User", "_Role", "_Session", "_Installation", "_File", "_Status", "_Followee",
           "_Follower", "_Notification", "_changes", "_Hooks", "_JobStatus", "_Audience", "_GlobalConfig",
           "_Idempotency", "_PushStatus", "fz", "Fz.x", "F z", "Ü", "__proto__", "sqlite_master", "pg_class", "c_Fz")

#: every route of both dialects, with placeholders: ``{C}`` a class, ``{I}`` an id
ROUTES = (
    ("GET", "classes/{C}"), ("POST", "classes/{C}"), ("GET", "classes/{C}/{I}"), ("PUT", "classes/{C}/{I}"),
    ("DELETE", "classes/{C}/{I}"), ("GET", "scan/classes/{C}"), ("GET", "aggregate/{C}"), ("GET", "cloudQuery"),
    ("POST", "batch"), ("POST", "batch/save"), ("DELETE", "purge/{C}"),
    ("GET", "users"), ("POST", "users"), ("GET", "users/{I}"), ("PUT", "users/{I}"), ("DELETE", "users/{I}"),
    ("GET", "users/me"), ("POST", "login"), ("GET", "login"), ("POST", "logout"), ("POST", "loginAs"),
    ("PUT", "users/{I}/updatePassword"), ("PUT", "users/{I}/refreshSessionToken"),
    ("GET", "verifyPassword"), ("POST", "verifyPassword"), ("POST", "usersByMobilePhone"),
    ("POST", "requestSmsCode"), ("POST", "requestMobilePhoneVerify"), ("POST", "verifySmsCode/{I}"),
    ("POST", "verifyMobilePhone/{I}"), ("PUT", "resetPasswordBySmsCode/{I}"), ("POST", "requestPasswordReset"),
    ("POST", "requestEmailVerify"), ("POST", "verificationEmailRequest"), ("POST", "requestChangePhoneNumber"),
    ("POST", "changePhoneNumber"), ("GET", "requestCaptcha"), ("POST", "verifyCaptcha"),
    ("GET", "sessions"), ("GET", "sessions/me"), ("GET", "sessions/{I}"), ("PUT", "sessions/{I}"),
    ("DELETE", "sessions/{I}"), ("GET", "roles"), ("POST", "roles"), ("PUT", "roles/{I}"), ("DELETE", "roles/{I}"),
    ("POST", "fileTokens"), ("POST", "fileCallback"), ("POST", "files"), ("POST", "files/{I}"),
    ("GET", "files/{I}"), ("DELETE", "files/{I}"),
    ("GET", "schemas"), ("GET", "schemas/{C}"), ("POST", "schemas"), ("POST", "schemas/{C}"),
    ("PUT", "schemas/{C}"), ("DELETE", "schemas/{C}"),
    ("POST", "functions/{I}"), ("POST", "call/{I}"), ("POST", "jobs/{I}"), ("GET", "cloud_code/jobs"),
    ("GET", "cloud_code/jobs/data"), ("GET", "hooks/functions"), ("GET", "hooks/triggers"),
    ("POST", "hooks/functions"), ("GET", "scriptlog"),
    ("POST", "push"), ("GET", "push_audiences"), ("GET", "installations"), ("POST", "installations"),
    ("PUT", "installations/{I}"), ("GET", "tables/Notifications/{I}"),
    ("GET", "config"), ("PUT", "config"), ("GET", "serverInfo"), ("GET", "health"), ("GET", "date"),
    ("POST", "LiveQuery/subscribe"), ("POST", "LiveQuery/unsubscribe"),
    ("GET", "statuses"), ("POST", "statuses"), ("GET", "statuses/{I}"), ("DELETE", "statuses/{I}"),
    ("GET", "subscribe/statuses"), ("GET", "subscribe/statuses/count"), ("DELETE", "subscribe/statuses/inbox"),
    ("POST", "subscribe/statuses/resetUnreadCount"),
    ("POST", "users/{I}/friendship/{I}"), ("DELETE", "users/{I}/friendship/{I}"), ("GET", "users/{I}/followees"),
    ("GET", "users/{I}/followers"), ("GET", "users/{I}/followersAndFollowees"),
    ("GET", "leaderboard/leaderboards/{I}"), ("POST", "leaderboard/leaderboards"),
    ("PUT", "leaderboard/leaderboards/{I}"), ("DELETE", "leaderboard/leaderboards/{I}"),
    ("POST", "leaderboard/users/{I}/statistics"), ("GET", "leaderboard/users/{I}/statistics"),
    ("POST", "leaderboard/leaderboards/{I}/ranks"), ("GET", "leaderboard/leaderboards/{I}/ranks"),
    ("GET", "classes/{C}/{I}/{I}"), ("PATCH", "classes/{C}"), ("OPTIONS", "classes/{C}"), ("HEAD", "classes/{C}"),
    # outside the dialects' prefixes: the operations endpoints, uploads, downloads, unknown paths
    ("GET", "/health"), ("POST", "/health"), ("HEAD", "/health"), ("GET", "/ready"), ("DELETE", "/ready"),
    ("GET", "/metrics"), ("POST", "/metrics"), ("GET", "/"), ("GET", "/{I}"), ("PUT", "/uploads/{I}"),
    ("POST", "/uploads/{I}"), ("GET", "/files/{I}"), ("GET", "/1.1"), ("GET", "/parse"), ("GET", "/1.1/../{C}"),
)
#: words a parser of this protocol reacts to, as keys or values
WORDS = ("$ne", "$lt", "$gte", "$in", "$nin", "$all", "$exists", "$regex", "$options", "$size", "$select",
         "$dontSelect", "$inQuery", "$notInQuery", "$relatedTo", "$nearSphere", "$within", "$geoWithin",
         "$geoIntersects", "$box", "$polygon", "$centerSphere", "$and", "$or", "$nor", "$not", "$text", "$search",
         "$eq", "$containedBy", "$elemMatch", "$type", "$where", "$expr", "$match", "$group", "$project", "$sort",
         "$limit", "$skip", "$count", "$lookup", "__type", "__op", "className", "objectId", "where", "query", "key",
         "iso", "latitude", "longitude", "coordinates", "objects", "amount", "ops", "ACL", "Date", "Pointer",
         "Relation", "GeoPoint", "Polygon", "File", "Bytes", "Object", "Increment", "Add", "AddUnique", "Remove",
         "Delete", "Batch", "BitAnd", "AddRelation", "username", "password", "email", "mobilePhoneNumber",
         "sessionToken", "authData", "requests", "path", "method", "body", "params", "transaction", "name", "url",
         "base64", "mime_type", "metaData", "users", "roles", "read", "write", "_ApplicationId", "_MasterKey",
         "_SessionToken", "_method", "_JavaScriptKey", "_ClientVersion", "__ignore_hooks", "createdAt",
         "updatedAt", "m", "n", "s", "a", "o", "o.k", "a.0", "p", "classLevelPermissions", "fields", "type",
         "protectedFields", "addField", "*", "requiresAuthentication", "pipeline", "distinct", "group", "_id",
         "channels", "data", "alert", "deviceType", "installationId", "user", "follower", "inboxType", "source")
#: strings where parsers, encoders and databases disagree
EDGE_TEXT = ("", "\x00", "a\x00b", "\ud800", "\udfff", "\U0010ffff", "\ufeff", "\u202e", "é", "é", "ß",
             "İ", "🏳️‍🌈", "\\", "\\u0000", "'", '"', "%", "_", "%00", "'; DROP TABLE Fz; --", "${x}", "{{x}}",
             "../../etc/passwd", "\r\nX-Injected: 1", "NaN", "Infinity", "-0", "1e999", "9" * 400, "x" * 5000,
             "2020-01-01T00:00:00Z", "0000-00-00T00:00:00.000Z", "9999-12-31T23:59:59.999Z", "+86 138 0000 0000",
             "^(a+)+$", r"(a)\1", "(?i)x", "\\Q.*\\E", "[", "*", "role:Admin", "_User", "Fz", "@A", "@secret",
             "@file", "@obj", "@B")

TEXT = st.one_of(st.sampled_from(EDGE_TEXT), st.text(max_size=8),
                 st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=4))
NUMBERS = st.one_of(st.integers(-2 ** 70, 2 ** 70), st.sampled_from([0, -1, 2 ** 31, 2 ** 53 + 1, 2 ** 63, -2 ** 63 - 1,
                                                                       10 ** 400]),
                    st.floats(), st.sampled_from([1e308, -0.0, 5e-324]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT, st.sampled_from(WORDS))
KEYS = st.one_of(st.sampled_from(WORDS), TEXT)


def _typed(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Protocol values (``{"__type": ...}``, ``{"__op": ...}``) with fields of any type."""
    return st.one_of(
        st.fixed_dictionaries({"__type": st.sampled_from(["Date", "Pointer", "Relation", "GeoPoint", "Polygon",
                                                          "File", "Bytes", "Object", "Nope"])},
                              optional={"iso": inner, "className": inner, "objectId": inner, "latitude": inner,
                                        "longitude": inner, "coordinates": inner, "name": inner, "url": inner,
                                        "base64": inner}),
        st.fixed_dictionaries({"__op": st.sampled_from(["Increment", "Add", "AddUnique", "Remove", "Delete",
                                                        "Batch", "BitAnd", "BitOr", "AddRelation",
                                                        "RemoveRelation", "SetOnInsert", "Nope"])},
                              optional={"amount": inner, "objects": inner, "ops": inner, "value": inner}))


VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4), _typed(inner)), max_leaves=16)


@dataclasses.dataclass
class FuzzRequest:
    """One request as generated: placeholders not yet filled in."""

    dialect: str
    method: str
    path: str
    params: Dict[str, str]
    caller: str
    body: Optional[bytes]
    extra_headers: Dict[str, str]

    def resolve(self, fill: Callable[[str], str]) -> "FuzzRequest":
        """This request with every placeholder replaced by ``fill`` (the world's ids)."""
        def sub(text: str) -> str:
            return re.sub(r"@[A-Za-z]+", lambda m: fill(m.group(0)), text)
        body = None if self.body is None else re.sub(rb"@[A-Za-z]+", lambda m: fill(m.group(0).decode()).encode(),
                                                     self.body)
        return dataclasses.replace(self, path=sub(self.path), params={k: sub(v) for k, v in self.params.items()},
                                   body=body)

    def describe(self) -> str:
        """The request as a line a person can replay."""
        body = "" if self.body is None else " " + self.body[:600].decode("utf-8", "backslashreplace")
        return f"{self.caller}: {self.method} {self.path} {self.params} {self.extra_headers}{body}"


def _encode(value: Any, ascii_only: bool = True) -> str:
    """JSON as a client's encoder writes it: NaN and Infinity as the literals Python emits; text escaped to
    ASCII (lone surrogates as escapes) or as it is (a lone surrogate then reaches the wire as bytes that
    are not UTF-8)."""
    return json.dumps(value, allow_nan=True, ensure_ascii=ascii_only)


def _nested(depth: int, kind: str) -> str:
    opener, closer = ("[", "]") if kind == "list" else ('{"a":', "}")
    return opener * depth + "1" + closer * depth


#: request bodies that are not the JSON of a value: broken, extreme or not JSON at all
ODD_BODIES = st.one_of(
    st.sampled_from([b"", b"{", b"[", b"null", b"{}}", b'{"a":1,}', b"NaN", b"-Infinity", b'{"n": NaN}',
                     b'{"n": 1e999}', b'{"n": -1e999}', b'{"a": "\\ud800"}', b'{"\\u0000": 1}', b'{"a":"\\u0000"}',
                     b"\xff\xfe", b'{"a": "\xc3\x28"}', b"\xef\xbb\xbf{}", b'{"a":1,"a":2}', b"0" * 10000,
                     b'"' + b"a" * 100000 + b'"', b"[" + b"1," * 50000 + b"1]"]),
    st.builds(lambda d, k: _nested(d, k).encode(), st.sampled_from([60, 99, 101, 150, 1000, 20000]),
              st.sampled_from(["list", "dict"])),
    st.binary(max_size=40))


def _batch(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    item = st.fixed_dictionaries(
        {"method": st.sampled_from(["GET", "POST", "PUT", "DELETE", "get", "PATCH", 1]),
         "path": st.one_of(st.builds(lambda p, r: p + r[1], st.sampled_from(["/1.1/", "/parse/", "", "/"]),
                                     st.sampled_from(ROUTES)), TEXT)},
        optional={"body": inner, "params": inner})
    return st.fixed_dictionaries({"requests": st.lists(item, max_size=4)},
                                 optional={"transaction": st.booleans()})


FIELDS = ("m", "n", "s", "a", "o", "o.k", "p", "p.m", "objectId", "createdAt", "ACL", "_rperm", "_wperm", "m.x",
          "authData", "password", "sessionToken", "username", "_hashed_password", "$or")
CONDITIONS = st.one_of(
    VALUES,
    st.dictionaries(st.sampled_from(["$ne", "$lt", "$gte", "$in", "$nin", "$all", "$exists", "$regex", "$options",
                                     "$eq", "$size", "$containedBy", "$not", "$type"]), VALUES, min_size=1, max_size=2),
    st.fixed_dictionaries({"$regex": st.sampled_from(["^SECRET", "SECRETOFA", ".*", "^(a+)+$", "[", "\\Q.*\\E"])}),
    st.builds(lambda key, cls, where: {key: {"where": where, "className": cls, "key": "m", "query":
                                             {"className": cls, "where": where}}},
              st.sampled_from(["$inQuery", "$notInQuery", "$select", "$dontSelect"]),
              st.sampled_from(["Secret", "Fz", "_User", "_Session"]), st.just({})),
    st.builds(lambda cls: {"__type": "Pointer", "className": cls, "objectId": "@secret"},
              st.sampled_from(["Secret", "Fz"])))
WHERE = st.recursive(st.dictionaries(st.sampled_from(FIELDS), CONDITIONS, min_size=1, max_size=3),
                     lambda inner: st.dictionaries(st.sampled_from(["$or", "$and", "$nor"]),
                                                   st.lists(inner, min_size=1, max_size=3), min_size=1, max_size=1)
                     | st.just({"$relatedTo": {"object": {"__type": "Pointer", "className": "Fz", "objectId": "@obj"},
                                               "key": "r"}}), max_leaves=6)
QUERY_PARAMS = st.fixed_dictionaries(
    {"where": WHERE.map(_encode)},
    optional={"include": st.sampled_from(["p", "p.p", "*", "r", "user", "p,r", "m"]),
              "keys": st.sampled_from(["m", "p.m", "-m", "n,m", "*", "p", "ACL"]),
              "order": st.sampled_from(["m", "-m", "n,-createdAt", "p.m", "$score", "ACL"]),
              "limit": st.sampled_from(["0", "1", "1000", "1001", "-1", "1e3", "x"]),
              "skip": st.sampled_from(["0", "1", "-5", "1000000", "9" * 20]),
              "count": st.sampled_from(["1", "true", "0", "x"])})

PARAM_NAMES = ("where", "order", "keys", "include", "limit", "skip", "count", "excludeKeys", "cql", "pvalues",
               "new", "fetchWhenSave", "redirectClassNameForKey", "pipeline", "group", "distinct", "match",
               "cursor", "scan_key", "returnedKeys", "sessionToken", "_method", "readPreference", "hint",
               "explain", "owner", "inboxType", "maxId", "sinceId", "startPosition", "maxResultsCount",
               "includeStatistics", "limitCount")
PARAM_TEXT = st.one_of(
    VALUES.map(_encode), TEXT,
    st.sampled_from(["-n", "n,-s", "a.b", "m", "*", "-createdAt,objectId", "$score", "1", "0", "-1", "1.5", "1e9",
                     "9" * 25, "true", "select * from Fz", "select count(*) from Secret",
                     "select * from Fz where n in (?) limit 100000000", "select * from _User",
                     "select m from Secret where m like '%'", '[{"$group":{"_id":"$n"}}]',
                     '[{"$match":{"m":{"$exists":true}}}]', "@secret", "@A"]))
PARAMS = st.dictionaries(st.sampled_from(PARAM_NAMES), PARAM_TEXT, max_size=4)


def _path(route: str, classes: List[str], ids: List[str]) -> str:
    out = route
    for c in classes:
        out = out.replace("{C}", c, 1)
    for i in ids:
        out = out.replace("{I}", i, 1)
    return out


PATHS = st.builds(lambda r, cs, ids: (r[0], _path(r[1], cs, ids)), st.sampled_from(ROUTES),
                  st.lists(st.one_of(st.sampled_from(CLASSES), TEXT.filter(lambda t: "/" not in t)),
                           min_size=1, max_size=1),
                  st.lists(st.one_of(st.sampled_from(IDS), TEXT.filter(lambda t: "/" not in t)), min_size=2,
                           max_size=2))
HEADERS = st.dictionaries(
    st.sampled_from(["Content-Type", "X-Parse-Installation-Id", "X-Parse-Request-Id", "X-LC-Prod", "X-LC-UA",
                     "X-Forwarded-Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Parse-Revocable-Session",
                     "Host", "X-LC-Hook-Key", "X-Parse-Client-Version"]),
    st.one_of(st.sampled_from(["application/json", "text/plain", "multipart/form-data; boundary=x",
                               "application/x-www-form-urlencoded", "image/png", "1", "x" * 300, "",
                               "evil.example:80", "127.0.0.1"]),
              # what HTTP/1.1 lets a header value hold (RFC 9110: visible ASCII, space, obs-text): a DEL or a
              # control byte is refused by the HTTP server before the app (400, no body)
              st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
                      max_size=10).map(str.strip)),
    max_size=2)


#: the fields each endpoint reads, by the first word of its path: a body of these keys with random values
#: goes past the "not an object" refusals into the endpoint's own checks
SHAPES: Dict[str, Dict[str, Any]] = {
    "users": {"username": "fzu", "password": "pw", "email": "a@b.c", "mobilePhoneNumber": "+8613800000000",
              "authData": {"anonymous": {"id": "x"}}, "ACL": {"*": {"read": True}}},
    "login": {"username": "fzu", "password": "pw", "email": "a@b.c", "mobilePhoneNumber": "+8613800000000",
              "smsCode": "123456", "authData": {"anonymous": {"id": "x"}}},
    "loginAs": {"userId": "@A", "installationId": "x"},
    "roles": {"name": "r", "users": {"__op": "AddRelation", "objects": []}, "ACL": {"*": {"read": True}}},
    "classes": {"n": 1, "m": "x", "ACL": {"*": {"read": True}}, "p": {"__type": "Pointer", "className": "Secret",
                                                                        "objectId": "@secret"}},
    "fileTokens": {"name": "a.txt", "key": "k", "mime_type": "text/plain", "metaData": {"size": 1}, "ACL": {}},
    "fileCallback": {"token": "t", "result": True},
    "files": {"base64": "aGk=", "_ContentType": "text/html", "metaData": {}, "mime_type": "text/html"},
    "schemas": {"className": "Fz", "fields": {"f": {"type": "String", "required": True, "defaultValue": "x"}},
                "classLevelPermissions": {"find": {"*": True}, "protectedFields": {"*": ["m"]}},
                "indexes": {"i": {"m": 1}}},
    "push": {"where": {"deviceType": "ios"}, "data": {"alert": "hi"}, "channels": ["a"], "push_time": "x",
             "expiration_time": "x", "prod": "dev"},
    "installations": {"deviceType": "ios", "installationId": "i", "deviceToken": "t", "channels": ["a"],
                      "user": {"__type": "Pointer", "className": "_User", "objectId": "@A"}},
    "statuses": {"data": {"m": "x"}, "inboxType": "default", "query": {"className": "_Follower", "where": {},
                                                                         "keys": "follower"}},
    "config": {"params": {"k": 1}, "masterKeyOnly": {"k": True}},
    "LiveQuery": {"query": {"className": "Secret", "where": {}, "keys": "m"}, "id": "x", "sessionToken": "x",
                  "query_id": "x"},
    "leaderboard": {"statisticName": "s", "order": "descending", "updateStrategy": "better",
                    "versionChangeInterval": "week", "statisticValue": 1, "statistics": [{"statisticName": "s",
                                                                                          "statisticValue": 1}]},
    "requestSmsCode": {"mobilePhoneNumber": "+8613800000000", "template": "t", "sign": "s", "ttl": 10,
                       "smsType": "voice", "validate_token": "x"},
    "verifyCaptcha": {"captcha_code": "x", "captcha_token": "x"},
    "changePhoneNumber": {"mobilePhoneNumber": "+8613800000000", "code": "123456"},
    "usersByMobilePhone": {"mobilePhoneNumber": "+8613800000000", "smsCode": "123456", "username": "u"},
    "batch": {"requests": [{"method": "GET", "path": "/1.1/classes/Secret"}], "transaction": True},
    "functions": {"a": 1}, "jobs": {"a": 1}, "hooks": {"functionName": "f", "url": "http://127.0.0.1/"},
    "aggregate": {"pipeline": [{"$match": {}}]},
}


def _shaped(route: str) -> st.SearchStrategy[Any]:
    """A body with the fields ``route`` reads, each kept, dropped, or given a random value."""
    word = route.strip("/").split("/")[0]
    fields = SHAPES.get(word, SHAPES["classes"])
    return st.fixed_dictionaries({}, optional={key: st.one_of(st.just(value), VALUES) for key, value in fields.items()})


@st.composite
def requests_(draw: st.DrawFn) -> FuzzRequest:
    """One request: a route of either dialect, a caller, parameters, a body, maybe odd headers."""
    dialect = draw(st.sampled_from(["leancloud", "parse"]))
    method, path = draw(PATHS)
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
    kind = draw(st.sampled_from(["shaped", "shaped", "value", "object", "batch", "odd", "none"]))
    if kind == "none" or method in ("GET", "HEAD", "OPTIONS") and draw(st.booleans()):
        body = None
    elif kind == "odd":
        body = draw(ODD_BODIES)
    elif kind == "shaped":
        body = _encode(draw(_shaped(path)), draw(st.booleans())).encode("utf-8", "surrogatepass")
    elif kind == "batch":
        body = _encode(draw(_batch(VALUES))).encode("utf-8", "surrogatepass")
    elif kind == "object":
        body = _encode(draw(st.dictionaries(KEYS, VALUES, min_size=1, max_size=5))).encode("utf-8", "surrogatepass")
    else:
        body = _encode(draw(VALUES), draw(st.booleans())).encode("utf-8", "surrogatepass")
    params = draw(st.one_of(PARAMS, QUERY_PARAMS))
    return FuzzRequest(dialect, method, path, params, draw(st.sampled_from(CALLERS)), body, draw(HEADERS))
