"""moto server, with two performance fixes that keep moto's semantics.

1. TransactWriteItems: moto (5.2.x) deep-copies every table a transaction
   touches so it can roll back, which makes each transaction cost O(table
   size): seconds once a local table holds a few thousand events, minutes in
   the reliability suite. This launcher keeps moto's own transaction code but
   snapshots only the items the transaction writes, and restores just those
   on rollback.
2. Query on the base table: moto sorts every item of the table and then keeps
   those of the queried partition. With 100,000 events stored that is seconds
   per Query, and the query API's 30-day summary (34 Queries) timed out as a
   503. Here moto's own query code runs with `all_items` narrowed to the
   partition (per thread, so concurrent scans still see every item).

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

_Table = _ddb.Table
_original_all_items = _Table.all_items
_original_query = _Table.query
# (table, hash key) of the base-table Query running on this thread, if any.
_partition = threading.local()


def all_items(self):
    only = getattr(_partition, "only", None)
    if only is None or only[0] is not self:
        return _original_all_items(self)
    # .get: self.items is a defaultdict, and a lookup must not add a partition.
    items = self.items.get(only[1])
    return sorted(items.values(), key=lambda x: x.range_key) if items else []


def query(self, hash_key, *args, **kwargs):
    # moto's backend passes index_name as the 8th positional argument.
    index_name = kwargs["index_name"] if "index_name" in kwargs else (args[6] if len(args) > 6 else None)
    if index_name or hash_key is None or not self.range_key_attr:
        return _original_query(self, hash_key, *args, **kwargs)
    _partition.only = (self, hash_key)
    try:
        return _original_query(self, hash_key, *args, **kwargs)
    finally:
        _partition.only = None


_Table.all_items = all_items
_Table.query = query

if __name__ == "__main__":
    sys.exit(main())
