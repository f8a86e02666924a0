"""Drives the real segment-analytics-python library against a Pulse host.

usage: segment_client.py HOST WRITE_KEY
Prints one JSON line: the message ids sent per call and any delivery errors.
"""
import json
import sys

import segment.analytics as analytics

host, write_key = sys.argv[1], sys.argv[2]
errors = []
analytics.write_key = write_key
analytics.host = host
analytics.max_retries = 1
analytics.on_error = lambda error, batch: errors.append(str(error))

sent = {
    "track": analytics.track("user-42", "Order Completed", {"total": 19.99, "currency": "EUR"})[1]["messageId"],
    "identify": analytics.identify("user-42", {"plan": "pro", "email": "u42@example.com"})[1]["messageId"],
    "page": analytics.page("user-42", "Docs", "Getting started", {"path": "/docs"})[1]["messageId"],
    "group": analytics.group("user-42", "acme", {"seats": 5})[1]["messageId"],
    "alias": analytics.alias("anon-7", "user-42")[1]["messageId"],
}
analytics.flush()
analytics.shutdown()
print(json.dumps({"sent": sent, "errors": errors}))
