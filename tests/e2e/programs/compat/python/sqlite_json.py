"""Standard library odds and ends: sqlite3 in memory, json, decimal, hashlib, zlib."""
import decimal
import hashlib
import json
import sqlite3
import zlib

db = sqlite3.connect(":memory:")
db.execute("create table t (k text primary key, v integer)")
db.executemany("insert into t values (?, ?)", [("k%d" % i, i * i) for i in range(100)])
print("sqlite", db.execute("select count(*), sum(v), max(k) from t").fetchone())
print("json", json.dumps({"b": [1, 2.5, None], "a": "é"}, sort_keys=True))
decimal.getcontext().prec = 30
print("decimal", decimal.Decimal(1) / decimal.Decimal(7))
print("sha1", hashlib.sha1(b"runcell").hexdigest())
print("zlib", len(zlib.decompress(zlib.compress(b"x" * 100000))))
