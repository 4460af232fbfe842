"""polars (connectorx and ADBC engines) and the ADBC driver against the server: polars_matrix.py PORT.

Prints one JSON object: for each operation {"ok": short result} or
{"error": message, "sqlstate": code}.
"""
import json
import sys

import adbc_driver_postgresql.dbapi as adbc
import connectorx as cx
import polars as pl

port = int(sys.argv[1])
URI = f"postgresql://prefdb@127.0.0.1:{port}/prefdb"
QUERY = "SELECT model_a, turn_len_a, ts FROM votes WHERE category = 'coding' LIMIT 10"
out = {}


def run(name, fn):
    try:
        out[name] = {"ok": fn()}
    except BaseException as e:  # one failure per operation (pyo3 panics are BaseException)
        msg = str(e).strip().splitlines()
        out[name] = {"error": msg[0] if msg else repr(e), "sqlstate": getattr(e, "sqlstate", None)}


def adbc_query(sql, params=None):
    with adbc.connect(URI) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetch_arrow_table().num_rows


def shape(frame):
    return [list(frame.shape), [str(t) for t in frame.dtypes]]


run("polars_connectorx", lambda: shape(pl.read_database_uri(QUERY, URI, engine="connectorx")))
for proto in ("binary", "csv", "cursor", "simple"):  # binary (the default) and csv use COPY ... TO STDOUT
    run(f"connectorx_{proto}", lambda: cx.read_sql(URI, QUERY, return_type="arrow", protocol=proto).num_rows)
run("polars_adbc", lambda: shape(pl.read_database_uri(QUERY, URI, engine="adbc")))
run("adbc_connect", lambda: adbc_query("SELECT 1"))
run("adbc_param", lambda: adbc_query("SELECT model_a FROM votes WHERE category = $1 LIMIT 10", ("coding",)))
run("adbc_get_table_schema", lambda: str(adbc.connect(URI).adbc_get_table_schema("votes")).replace("\n", "; "))
print(json.dumps(out))
