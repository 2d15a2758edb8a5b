"""Issue 19, item 17: background jobs. ``POST jobs/NAME`` with the master key starts the Engine's job
and answers at once with its ``_JobStatus`` id (Parse's ``X-Parse-Job-Status-Id`` header); the job runs
outside the request and its status row says how it ended. Raw HTTP against ``leanorm serve``, both
dialects."""
import time
import uuid

import pytest

from leanorm.engine import Engine
from leanorm.errors import LeanCloudError
from tests.security.raw_http import DIALECTS, Raw
from tests.served import serve


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve(tmp_path_factory.mktemp("jobs") / "app.sqlite3", "--engine", "tests.engine.jobs_app:engine") as s:
        yield s


@pytest.fixture(params=DIALECTS)
def raw(server, request):
    return Raw(server, request.param)


def _start(raw, name, params):
    resp = raw.http.post(raw.url(f"jobs/{name}"), json=params, headers=raw.headers(master=True))
    assert resp.status_code == 200 and resp.json() == {}, resp.text
    return resp.headers["X-Parse-Job-Status-Id"]


def _finished(raw, status_id):
    """The job's status row once it left ``running`` (polled: the job runs after the answer)."""
    for _ in range(300):
        row = raw.ok("GET", f"classes/_JobStatus/{status_id}", master=True)
        if row["status"] != "running":
            return row
        time.sleep(0.1)
    pytest.fail(f"job {status_id} still running: {row}")


def test_a_job_runs_after_the_answer_and_its_status_says_it_succeeded(raw):
    label = uuid.uuid4().hex
    status_id = _start(raw, "tally", {"label": label, "count": 3})
    row = _finished(raw, status_id)
    assert (row["jobName"], row["status"], row["message"], row["source"]) == ("tally", "succeeded",
                                                                               f"counted 3 {label}", "api")
    assert row["params"] == {"label": label, "count": 3} and row["finishedAt"]["__type"] == "Date"
    assert [t["count"] for t in raw.rows("JobTally", where=f'{{"label":"{label}"}}')] == [3]


def test_a_failing_job_is_recorded_as_failed_with_its_message(raw):
    row = _finished(raw, _start(raw, "refuses", {}))
    assert (row["status"], row["message"]) == ("failed", "nothing to do today")


def test_jobs_and_their_statuses_need_the_master_key(raw):
    status, answer = raw.call("POST", "jobs/tally", {"label": "x"})
    assert status == 403 and answer["code"] in (1, 119), answer
    status_id = _start(raw, "refuses", {})
    for path in (f"classes/_JobStatus/{status_id}", "classes/_JobStatus"):
        status, answer = raw.call("GET", path)
        assert status == 403 and answer["code"] == 119, (path, answer)


def test_an_undeclared_job_is_refused(raw):
    status, answer = raw.call("POST", "jobs/nosuchjob", {}, master=True)
    assert (status, answer["code"]) == (400, 141), answer
    if raw.dialect == "parse":  # Parse Server's own message, which Parse-SDK-JS's tests compare
        assert answer["error"] == "Invalid job."


def test_at_most_two_jobs_run_at_once(server):
    raw = Raw(server, "parse")
    gate = uuid.uuid4().hex
    held = [_start(raw, "held", {"gate": gate}) for _ in range(2)]
    status, answer = raw.call("POST", "jobs/tally", {"label": "third"}, master=True)
    assert (status, answer["code"]) == (429, 155), answer
    raw.ok("POST", "classes/JobGate", {"name": gate}, master=True)
    assert [_finished(raw, s)["message"] for s in held] == ["released", "released"]
    _finished(raw, _start(raw, "tally", {"label": "after"}))  # the slots were given back


def test_a_job_runs_only_for_a_master_caller_whatever_the_route():
    """The Engine's own HTTP front (``/__engine/1.1/jobs/NAME``) reaches ``dispatch`` with the app key."""
    engine = Engine(app_id="a", app_key="k", master_key="m", hook_key="h")
    engine.job("chores")(lambda: "done")
    with pytest.raises(LeanCloudError) as refused:
        engine.dispatch("jobs/chores", {})
    assert refused.value.code == 119
    assert engine.dispatch("jobs/chores", {}, master=True) == {"result": "done"}
    assert engine.declarations.job_names() == ["chores"] and engine.declarations.metadata_names() == []
