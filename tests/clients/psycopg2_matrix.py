"""psycopg2 against the server: psycopg2_matrix.py PORT.

Prints one JSON object: for each operation {"ok": short result} or
{"error": message, "sqlstate": code}. Each operation gets its own connection.
"""
import io
import json
import sys

import psycopg2

port = int(sys.argv[1])
DSN = f"host=127.0.0.1 port={port} user=prefdb dbname=prefdb connect_timeout=10"
out = {}


def run(name, fn):
    conn = None
    try:
        conn = psycopg2.connect(DSN)
        out[name] = {"ok": fn(conn)}
    except Exception as e:  # one failure per operation, then go on
        out[name] = {"error": str(e).strip(), "sqlstate": getattr(e, "pgcode", None)}
    finally:
        if conn is not None:
            conn.close()


def one(conn, sql, params=None, cursor_name=None):
    cur = conn.cursor(cursor_name) if cursor_name else conn.cursor()
    cur.execute(sql, params)
    rows = cur.fetchall()
    return [[str(v) for v in row] for row in rows[:3]] + ([len(rows)] if len(rows) > 3 else [])


def copy_out(conn, sql):
    buf = io.StringIO()
    conn.cursor().copy_expert(sql, buf)
    return len(buf.getvalue())


run("connect", lambda c: [c.server_version, c.encoding, c.get_parameter_status("standard_conforming_strings")])
run("select", lambda c: one(c, "SELECT count(*) FROM votes"))
run("param", lambda c: one(c, "SELECT count(*) FROM votes WHERE category = %s", ("coding",)))
run("types", lambda c: one(c, "SELECT model_a, turn_len_a, ts, 1.5::float8, true FROM votes ORDER BY ts LIMIT 1"))
run("named_cursor", lambda c: one(c, "SELECT model_a FROM votes LIMIT 5", cursor_name="prefdb_cur"))
run("named_cursor_param", lambda c: one(c, "SELECT model_a FROM votes WHERE category = %s LIMIT 5",
                                        ("coding",), cursor_name="prefdb_cur"))
run("bt_rank_raw", lambda c: one(c, "SELECT bt_rank(model_a, model_b, winner) FROM votes")[0][0][:60])
run("copy_text", lambda c: copy_out(c, "COPY (SELECT model_a FROM votes LIMIT 3) TO STDOUT"))
run("copy_csv", lambda c: copy_out(c, "COPY (SELECT model_a FROM votes LIMIT 3) TO STDOUT WITH (FORMAT csv, HEADER)"))
print(json.dumps(out))
