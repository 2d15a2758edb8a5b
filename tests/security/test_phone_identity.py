"""Issue 18, findings 5 and 6: one identity per phone number.

5. One number in two spellings (``138...`` and ``+86138...``) was two accounts' number: an older account
   took the victim's number in the other spelling, and the victim's own SMS login, SMS signup-or-login
   and SMS password reset then went to the attacker's account.
6. ``changePhoneNumber`` without a session answered 603 for a wrong code (not counted) and 206 for the
   right one: the code could be guessed without limit, then spent with the attacker's session.

The embedded server answers the SMS endpoints under ``/parse/`` too: every attack runs in both dialects.
"""
import random

import pytest

from tests.security.authz_client import Api, api, outbox_code, refused, server, unique  # noqa: F401 (fixtures)
from tests.security.raw_http import DIALECTS
from tests.served import serve


def _national() -> str:
    """A Chinese mobile number as LeanCloud's clients usually send it: no ``+86``."""
    return f"13{random.randrange(10 ** 9):09d}"


#: other spellings of the national number ``n``: each names the same phone
SPELLINGS = {
    "+86": lambda n: "+86" + n,
    "spaced": lambda n: f"+86 {n[:3]} {n[3:7]} {n[7:]}",
    "0086": lambda n: "0086" + n,
    "dashed": lambda n: f"{n[:3]}-{n[3:7]}-{n[7:]}",
}


def _change_code(server, number: str) -> str:
    """The last change-of-number code sent to ``number`` (whichever user asked for it)."""
    rows = server.sql("SELECT code FROM _outbox WHERE recipient=? AND purpose LIKE 'change_phone%' "
                      "ORDER BY id DESC LIMIT 1", (number,))
    row = rows[0] if rows else None
    assert row, f"no change_phone code for {number}"
    return row[0]


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_a_number_in_another_spelling_is_taken(api, spelling):
    attacker = api.signup()  # the older account
    number = _national()
    victim = api.signup(mobilePhoneNumber=number)
    spelled = SPELLINGS[spelling](number)
    status, answer = api.call("PUT", f"users/{attacker['objectId']}", {"mobilePhoneNumber": spelled},
                              session=attacker["sessionToken"])
    assert refused(status, answer, 214)
    status, answer = api.call("POST", "users", {"username": unique("u"), "password": "pw", "mobilePhoneNumber": spelled})
    assert refused(status, answer, 214)
    assert api.master("GET", f"users/{attacker['objectId']}").get("mobilePhoneNumber") is None
    assert api.master("GET", f"users/{victim['objectId']}")["mobilePhoneNumber"] == "+86" + number


def test_numbers_are_stored_in_e164_and_found_in_any_spelling(api):
    number = _national()
    user = api.signup(mobilePhoneNumber=SPELLINGS["spaced"](number))
    assert api.master("GET", f"users/{user['objectId']}")["mobilePhoneNumber"] == "+86" + number
    found = api.master("GET", "users", params={"where": {"mobilePhoneNumber": "+86" + number}})["results"]
    assert [u["objectId"] for u in found] == [user["objectId"]]
    for spelling in (number, *(spell(number) for spell in SPELLINGS.values())):
        answer = api.ok("POST", "login", {"mobilePhoneNumber": spelling, "password": "pw"})
        assert answer["objectId"] == user["objectId"]


@pytest.mark.parametrize("value", ["12345", "+86 138", "not a number", "+8613800138000;ext=12", "1" * 40])
def test_an_invalid_number_is_refused(api, value):
    status, answer = api.call("POST", "users", {"username": unique("u"), "password": "pw", "mobilePhoneNumber": value})
    assert refused(status, answer, 127)
    user = api.signup()
    status, answer = api.call("PUT", f"users/{user['objectId']}", {"mobilePhoneNumber": value},
                              session=user["sessionToken"])
    assert refused(status, answer, 127)


def _takeover_attempt(api: Api):
    """An older account tries the victim's number in the ``+86`` spelling; the victim signs up first."""
    attacker = api.signup()
    number = _national()
    victim = api.signup(mobilePhoneNumber=number)
    api.call("PUT", f"users/{attacker['objectId']}", {"mobilePhoneNumber": "+86" + number},
             session=attacker["sessionToken"])
    return attacker, victim, number


def test_the_victims_sms_login_opens_the_victims_account(api, server):
    attacker, victim, number = _takeover_attempt(api)
    api.ok("POST", "requestLoginSmsCode", {"mobilePhoneNumber": number})
    code = outbox_code(server, "+86" + number, "login")
    answer = api.ok("POST", "login", {"mobilePhoneNumber": number, "smsCode": code})
    assert answer["objectId"] == victim["objectId"]
    assert api.master("GET", f"users/{attacker['objectId']}").get("mobilePhoneVerified") is not True


def test_the_victims_sms_signup_or_login_opens_the_victims_account(api, server):
    attacker, victim, number = _takeover_attempt(api)
    api.ok("POST", "requestSmsCode", {"mobilePhoneNumber": number})
    code = outbox_code(server, "+86" + number, "sms")
    answer = api.ok("POST", "usersByMobilePhone", {"mobilePhoneNumber": number, "smsCode": code})
    assert answer["objectId"] == victim["objectId"]
    assert api.master("GET", f"users/{attacker['objectId']}").get("mobilePhoneVerified") is not True


def test_the_victims_sms_password_reset_resets_the_victims_password(api, server):
    attacker, victim, number = _takeover_attempt(api)
    api.ok("POST", "requestPasswordResetBySmsCode", {"mobilePhoneNumber": number})
    code = outbox_code(server, "+86" + number, "password_reset")
    api.ok("PUT", f"resetPasswordBySmsCode/{code}", {"password": "new", "mobilePhoneNumber": number})
    assert api.ok("POST", "login", {"username": victim["username"], "password": "new"})["objectId"] == \
        victim["objectId"]
    assert api.ok("POST", "login", {"username": attacker["username"], "password": "pw"})["objectId"] == \
        attacker["objectId"]


@pytest.fixture(params=DIALECTS)
def guessing(tmp_path, request):
    """A server of its own, in each dialect, for a test spending failed guesses: the per-address budget
    (20 an hour) it uses up is no other test's."""
    with serve(tmp_path / "app.sqlite3") as running:
        yield Api(running, request.param), running


def test_change_number_code_guesses_without_a_session_are_counted(guessing):
    api, server = guessing
    attacker = api.signup()
    number = "+86" + _national()  # the victim's, on no account yet
    api.ok("POST", "requestChangePhoneNumber", {"mobilePhoneNumber": number}, session=attacker["sessionToken"])
    code = _change_code(server, number)
    wrong = [f"{(int(code) + k) % 10 ** 6:06d}" for k in range(1, 6)]
    for guess in wrong:
        status, answer = api.call("POST", "changePhoneNumber", {"mobilePhoneNumber": number, "code": guess})
        assert refused(status, answer, 603)
    # the right code without a session answers like a wrong one (it was an oracle: 206)...
    status, answer = api.call("POST", "changePhoneNumber", {"mobilePhoneNumber": number, "code": code})
    assert refused(status, answer, 603, 219)
    # ...and the five wrong guesses killed it: the attacker's session can not spend it either
    status, answer = api.call("POST", "changePhoneNumber", {"mobilePhoneNumber": number, "code": code},
                                    session=attacker["sessionToken"])
    assert refused(status, answer, 603, 219)
    assert api.master("GET", f"users/{attacker['objectId']}").get("mobilePhoneNumber") is None


def test_the_right_change_number_code_from_another_user_is_a_counted_failure(guessing):
    """The answer to another user's session is 603 whatever the code, and each such try counts: five of
    them kill the code of the user who asked."""
    api, server = guessing
    asker, other = api.signup(), api.signup()
    number = "+86" + _national()
    api.ok("POST", "requestChangePhoneNumber", {"mobilePhoneNumber": number}, session=asker["sessionToken"])
    code = _change_code(server, number)
    for _ in range(5):
        status, answer = api.call("POST", "changePhoneNumber", {"mobilePhoneNumber": number, "code": code},
                                  session=other["sessionToken"])
        assert refused(status, answer, 603)
    status, answer = api.call("POST", "changePhoneNumber", {"mobilePhoneNumber": number, "code": code},
                              session=asker["sessionToken"])
    assert refused(status, answer, 219)
    assert api.master("GET", f"users/{asker['objectId']}").get("mobilePhoneNumber") is None


def test_a_change_number_code_is_spent_only_by_the_user_who_asked(api, server):
    asker, other = api.signup(), api.signup()
    number = "+86" + _national()
    api.ok("POST", "requestChangePhoneNumber", {"mobilePhoneNumber": number}, session=asker["sessionToken"])
    code = _change_code(server, number)
    for session in (None, other["sessionToken"]):
        status, answer = api.call("POST", "changePhoneNumber", {"mobilePhoneNumber": number, "code": code},
                                        session=session)
        assert refused(status, answer, 603)
    api.ok("POST", "changePhoneNumber", {"mobilePhoneNumber": number[3:], "code": code},
                 session=asker["sessionToken"])
    stored = api.master("GET", f"users/{asker['objectId']}")
    assert stored["mobilePhoneNumber"] == number and stored["mobilePhoneVerified"] is True


def test_a_database_of_an_earlier_version_is_normalised_at_open(tmp_path):
    """Rows an earlier version stored in other spellings: each number is rewritten to E.164 when the
    server opens the file; two accounts sharing one phone stay, and an SMS login to it is refused
    (the server can not tell which is the owner) instead of opening the first one."""
    database = tmp_path / "app.sqlite3"
    with serve(database) as running:
        api = Api(running, "leancloud")
        older, victim, plain = api.signup(), api.signup(), api.signup()
    shared, own = _national(), _national()
    # what an earlier version could store, and knew no rewrite of
    for user, number in ((older, "+86" + shared), (victim, shared), (plain, own)):
        running.sql("""UPDATE "c__User" SET data = json_set(data, '$.mobilePhoneNumber', ?) WHERE objectId = ?""",
                    (number, user["objectId"]))
    running.sql("DELETE FROM _migrations")
    with serve(database, "--phone-region", "CN") as running:
        api = Api(running, "leancloud")
        assert api.master("GET", f"users/{plain['objectId']}")["mobilePhoneNumber"] == "+86" + own
        assert api.master("GET", f"users/{victim['objectId']}")["mobilePhoneNumber"] == "+86" + shared
        api.ok("POST", "requestLoginSmsCode", {"mobilePhoneNumber": own})
        code = outbox_code(running, "+86" + own, "login")
        assert api.ok("POST", "login", {"mobilePhoneNumber": own, "smsCode": code})["objectId"] == plain["objectId"]
        status, answer = api.call("POST", "requestLoginSmsCode", {"mobilePhoneNumber": shared})
        assert refused(status, answer, 214)
        status, answer = api.call("POST", "login", {"mobilePhoneNumber": shared, "password": "pw"})
        assert refused(status, answer, 214)
