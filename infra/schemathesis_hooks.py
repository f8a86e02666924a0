"""schemathesis hooks for infra/schemathesis.sh (which sets SCHEMATHESIS_HOOKS to this file).

The query API has rules that span parameters, which OpenAPI cannot state:
`days` excludes `from`/`to`, `from` must not be after `to`, a range is at most
the project's retention long, an hourly series covers at most 31 days, and a
cursor (`cursor`, `since`) is an opaque value only the API makes. A
*positive* case (one schemathesis promises is valid, and checks is accepted)
that breaks one of them would be a false alarm, so this hook repairs positive
cases into the nearest request the contract allows. Negative cases are left
alone: they still probe every rule (and must get a 4xx, never a 5xx).

It also counts, per query operation, how many 200 answers carried data (not
an empty page), and prints the tally when schemathesis exits.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import os
import sys
import threading
import time

import schemathesis

DAY_MS = 86_400_000
# The demo project's retention (the gateway creates it with the default).
RETENTION_DAYS = int(os.environ.get("PULSE_SCHEMATHESIS_RETENTION_DAYS", "365"))
# Default range length per operation, when only `to` is given (SPEC, lib.rs).
RANGE_DEFAULT_DAYS = {
    "/v1/events": RETENTION_DAYS,
    "/v1/users/{user_id}/events": RETENTION_DAYS,
    "/v1/sessions/{session_id}/events": RETENTION_DAYS,
    "/v1/analytics/summary": 7,
    "/v1/analytics/daily": 30,
    "/v1/analytics/top-users": 7,
    "/v1/analytics/timeseries": 7,
    "/v1/export": 30,
}
# Opaque cursors, per operation.
CURSORS = {
    "/v1/events": "cursor",
    "/v1/users/{user_id}/events": "cursor",
    "/v1/sessions/{session_id}/events": "cursor",
    "/v1/export": "cursor",
    "/v1/live": "since",
    "/v1/monitoring/users/{user_id}/events": "since",
}
EPOCH = dt.date(1970, 1, 1)


def _instant(value: object, end_of_day: bool) -> int | None:
    """Epoch ms of a `from`/`to` value as the API reads it, or None if it would refuse it."""
    if not isinstance(value, str):
        return None
    if len(value) == 10:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return None
        ms = (day - EPOCH).days * DAY_MS
        return ms + DAY_MS - 1 if end_of_day else ms
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if t.tzinfo is None:
        return None
    ms = int(t.timestamp() * 1000)
    return ms if ms >= 0 else None


def _day(ms: int) -> str:
    return (EPOCH + dt.timedelta(days=ms // DAY_MS)).isoformat()


def _present(query: dict, name: str) -> bool:
    # An empty value counts as absent (as the API reads it).
    return query.get(name) not in (None, "")


def _repair_range(query: dict, default_days: int, now: int) -> tuple[int, int]:
    """Makes from/to/days valid; returns the range the API will read."""
    if _present(query, "days") and (_present(query, "from") or _present(query, "to")):
        del query["days"]
    if _present(query, "from") or _present(query, "to"):
        to = _instant(query["to"], True) if _present(query, "to") else now
        if to is None:
            query["to"] = _day(now)
            to = _instant(query["to"], True)
        if _present(query, "from"):
            start = _instant(query["from"], False)
        else:
            start = to - default_days * DAY_MS + 1
        if start is None or start > to or to - start > (RETENTION_DAYS + 1) * DAY_MS:
            # The day of `to`, from its start: never after `to`, one day long.
            query["from"] = _day(to)
            start = _instant(query["from"], False)
        return start, to
    today = now - now % DAY_MS
    days = default_days
    if _present(query, "days"):
        try:
            days = int(query["days"])
        except (TypeError, ValueError):
            days = 1
        if not 1 <= days <= RETENTION_DAYS:
            # Spread over 1..retention rather than piling up on the maximum
            # (a year of summary or top-users reads 366 day items).
            days = (days - 1) % RETENTION_DAYS + 1
        query["days"] = days
    return today - (days - 1) * DAY_MS, now


def _repair(case) -> None:
    path = case.operation.path
    if path not in RANGE_DEFAULT_DAYS and path not in CURSORS:
        return
    query = case.query
    if not isinstance(query, dict):
        return
    if path in CURSORS:
        query.pop(CURSORS[path], None)
    if path in RANGE_DEFAULT_DAYS:
        now = int(time.time() * 1000)
        start, end = _repair_range(query, RANGE_DEFAULT_DAYS[path], now)
        if query.get("interval") == "hour" and end - start > 31 * DAY_MS:
            query["interval"] = "day"


@schemathesis.hook
def map_case(context, case):
    """Generated cases (coverage, fuzzing, stateful): positive ones only."""
    meta = case.meta
    if meta is not None and meta.generation.mode.is_positive:
        _repair(case)
    return case


@schemathesis.hook
def before_add_examples(context, examples):
    """The examples phase combines every parameter's `example`: all positive."""
    for case in examples:
        _repair(case)


# ── How many answers carried data ────────────────────────────────────────────
_TALLY: dict[str, list[int]] = {}
_LOCK = threading.Lock()


def _has_data(body: object) -> bool:
    if not isinstance(body, dict):
        return False
    if "event_id" in body:  # GET /v1/events/{event_id}
        return True
    for key in ("events", "users", "tree"):
        if body.get(key):
            return True
    if body.get("erased") or body.get("total_events"):
        return True
    rows = body.get("points") or body.get("days") or []
    return any(isinstance(r, dict) and r.get("events") for r in rows)


@schemathesis.hook
def after_call(context, case, response):
    op = case.operation
    # Reads of the query API (and erasure): not ingest, not monitoring's switches.
    method = op.method.upper()
    if not op.path.startswith("/v1/") or method == "POST":
        return
    if method == "DELETE" and op.path.startswith("/v1/monitoring/"):
        return
    if response.status_code != 200:
        with _LOCK:
            _TALLY.setdefault(op.label, [0, 0])
        return
    ctype = response.headers.get("content-type", [""])
    ctype = ctype[0] if isinstance(ctype, list) else ctype
    if "json" in ctype and "ndjson" not in ctype:
        try:
            data = _has_data(json.loads(response.content))
        except ValueError:
            data = False
    else:
        # Export: more than the CSV header row or any NDJSON line.
        data = response.content.count(b"\n") > (1 if "csv" in ctype else 0)
    with _LOCK:
        tally = _TALLY.setdefault(op.label, [0, 0])
        tally[0] += 1
        tally[1] += int(data)


@atexit.register
def _report() -> None:
    if not _TALLY:
        return
    ok = sum(t[0] for t in _TALLY.values())
    hit = sum(t[1] for t in _TALLY.values())
    lines = [f"query answers with data: {hit} of {ok} (200s)"]
    for label, (n, h) in sorted(_TALLY.items()):
        lines.append(f"  {label}: {h}/{n}")
    print("\n".join(lines), file=sys.stderr)
