"""SQLAlchemy reflection and pandas against the server: sqlalchemy_matrix.py PORT [DRIVER].

DRIVER is psycopg (default, SQLAlchemy 2.x) or psycopg2 (SQLAlchemy 1.4 and 2.x).
Prints one JSON object: for each operation {"ok": short result} or
{"error": message, "sqlstate": code}. Each operation gets a fresh connection.
"""
import json
import sys

import pandas as pd
import sqlalchemy
from sqlalchemy.pool import NullPool

port = int(sys.argv[1])
driver = sys.argv[2] if len(sys.argv) > 2 else "psycopg"
engine = sqlalchemy.create_engine(
    f"postgresql+{driver}://prefdb@127.0.0.1:{port}/prefdb",
    poolclass=NullPool, connect_args={"connect_timeout": 10})
out = {"versions": {"sqlalchemy": sqlalchemy.__version__, "pandas": pd.__version__, "driver": driver}}


def run(name, fn):
    try:
        with engine.connect() as conn:
            out[name] = {"ok": fn(conn)}
    except Exception as e:  # one failure per operation, then go on
        orig = getattr(e, "orig", e)
        msg = str(orig).strip().splitlines()
        out[name] = {"error": msg[0] if msg else repr(e),
                     "sqlstate": getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)}


def insp(conn):
    return sqlalchemy.inspect(conn)


run("get_schema_names", lambda c: insp(c).get_schema_names())
run("get_table_names", lambda c: insp(c).get_table_names())
run("has_table", lambda c: insp(c).has_table("votes"))
run("get_view_names", lambda c: insp(c).get_view_names())
run("get_columns", lambda c: [[col["name"], str(col["type"]), col["nullable"]] for col in insp(c).get_columns("votes")])
run("get_pk_constraint", lambda c: insp(c).get_pk_constraint("votes"))
run("get_foreign_keys", lambda c: insp(c).get_foreign_keys("votes"))
run("get_indexes", lambda c: insp(c).get_indexes("votes"))
run("get_unique_constraints", lambda c: insp(c).get_unique_constraints("votes"))
run("get_check_constraints", lambda c: insp(c).get_check_constraints("votes"))
run("get_table_comment", lambda c: insp(c).get_table_comment("votes"))
run("table_autoload", lambda c: [col.name for col in sqlalchemy.Table("votes", sqlalchemy.MetaData(), autoload_with=c).columns])
run("read_sql_table", lambda c: list(pd.read_sql_table("votes", c).shape))
run("read_sql_query", lambda c: list(pd.read_sql_query(sqlalchemy.text("SELECT model_a, ts FROM votes LIMIT 5"), c).shape))
run("stream_results", lambda c: len(c.execution_options(stream_results=True).execute(
    sqlalchemy.text("SELECT model_a FROM votes WHERE category = :cat LIMIT 5"), {"cat": "coding"}).fetchall()))
print(json.dumps(out, default=str))
