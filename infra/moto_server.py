"""moto server, with one performance fix for TransactWriteItems.

moto (5.2.x) deep-copies every table a transaction touches so it can roll
back, which makes each transaction cost O(table size): seconds once a local
table holds a few thousand events, minutes in the reliability suite. This
launcher keeps moto's own transaction code and semantics but snapshots only
the items the transaction writes, and restores just those on rollback.

Usage: same arguments as moto_server (e.g. -H 127.0.0.1 -p 4566).
"""

import copy as _copy
import sys
import threading

from moto.dynamodb import models as _ddb
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.server import main

_lock = threading.RLock()
_original = _ddb.DynamoDBBackend.transact_write_items


class _TablesByReference:
    """Stands in for the `copy` module inside moto's transaction code: tables
    are "copied" by reference (the items are snapshotted below instead)."""

    def deepcopy(self, x, memo=None):
        return x if isinstance(x, _ddb.Table) else _copy.deepcopy(x, memo)

    def __getattr__(self, name):
        return getattr(_copy, name)


def _key(table, attrs):
    hash_key = DynamoType(attrs[table.hash_key_attr])
    range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_key, range_key


def _restore(table, hash_key, range_key, previous):
    if range_key is None:
        if previous is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = previous
    elif previous is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = previous


def transact_write_items(self, transact_items):
    with _lock:
        saved = []
        for entry in transact_items:
            op = next(iter(entry.values()))
            table = self.tables.get(op.get("TableName"))
            attrs = op.get("Key") or op.get("Item")
            if table is None or not attrs:
                continue
            try:
                hash_key, range_key = _key(table, attrs)
            except KeyError:
                continue  # moto reports the malformed key itself
            current = table.get_item(hash_key, range_key)
            saved.append((table, hash_key, range_key, _copy.deepcopy(current) if current else None))
        _ddb.copy = _TablesByReference()
        try:
            return _original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, previous in reversed(saved):
                _restore(table, hash_key, range_key, previous)
            raise
        finally:
            _ddb.copy = _copy


_ddb.DynamoDBBackend.transact_write_items = transact_write_items

if __name__ == "__main__":
    sys.exit(main())
