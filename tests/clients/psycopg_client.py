"""Run the README's flat leaderboard through psycopg and through pandas + SQLAlchemy.

Usage: psycopg_client.py PORT. Prints one JSON object: {"psycopg": rows, "pandas": rows,
"param": n}. tests/server.rs compares the rows with the embedded result.
"""
import json
import sys

import pandas as pd
import psycopg
import sqlalchemy

FLAT = (
    "SELECT rank, item, rating, wins, losses, ties, battles "
    "FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes') ORDER BY rank, item"
)

port = int(sys.argv[1])
out = {}
with psycopg.connect(f"host=127.0.0.1 port={port} user=prefdb dbname=prefdb", connect_timeout=10) as conn:
    with conn.cursor() as cur:
        cur.execute(FLAT)
        out["psycopg"] = [[str(v) for v in row] for row in cur.fetchall()]
        # psycopg sends the extended protocol with a bound parameter.
        cur.execute("SELECT count(*) FROM votes WHERE category = %s", ("coding",))
        out["param"] = cur.fetchone()[0]

# Python ints beyond int8 travel as NUMERIC: out of range is an error, as in Postgres.
with psycopg.connect(f"host=127.0.0.1 port={port} user=prefdb dbname=prefdb", connect_timeout=10, autocommit=True) as conn:
    with conn.cursor() as cur:
        cur.execute("SELECT %s::bigint", (2**62,))
        out["bigint_in_range"] = str(cur.fetchone()[0])
        try:
            cur.execute("SELECT %s::bigint", (2**70,))
            out["bigint_out_of_range"] = ["no error", str(cur.fetchone()[0])]
        except psycopg.Error as e:
            out["bigint_out_of_range"] = [e.sqlstate, str(e).strip()]

engine = sqlalchemy.create_engine(f"postgresql+psycopg://prefdb@127.0.0.1:{port}/prefdb")
with engine.connect() as conn:
    frame = pd.read_sql(sqlalchemy.text(FLAT), conn)
out["pandas_columns"] = list(frame.columns)
out["pandas"] = [[str(v) for v in row] for row in frame.itertuples(index=False)]
print(json.dumps(out))
