"""psycopg 3 against the server: psycopg_matrix.py PORT.

Prints one JSON object: for each operation {"ok": short result} or
{"error": message, "sqlstate": code}. Each operation runs in a child process with its own
connection, so a client crash (psycopg's C layer segfaults on a bad Describe reply) is
reported as that operation's error.
"""
import json
import multiprocessing
import sys

import psycopg

port = int(sys.argv[1])
DSN = f"host=127.0.0.1 port={port} user=prefdb dbname=prefdb"
out = {}


def child(send, fn, kw):
    try:
        with psycopg.connect(DSN, connect_timeout=10, **kw) as conn:
            send.send({"ok": fn(conn)})
    except Exception as e:  # one failure per operation, then go on
        send.send({"error": str(e).strip(), "sqlstate": getattr(e, "sqlstate", None)})


def run(name, fn, **kw):
    recv, send = multiprocessing.Pipe(duplex=False)
    proc = multiprocessing.get_context("fork").Process(target=child, args=(send, fn, kw))
    proc.start()
    proc.join(50)
    if recv.poll():
        out[name] = recv.recv()
    else:
        proc.kill()
        out[name] = {"error": f"client process died (exit code {proc.exitcode})", "sqlstate": None}


def one(conn, sql, params=None, **kw):
    with conn.cursor(**kw) as cur:
        cur.execute(sql, params)
        return [[str(v) for v in row] for row in cur.fetchall()]


def named(conn, sql, params=None, **kw):
    with conn.cursor(name="prefdb_cur", **kw) as cur:
        cur.execute(sql, params)
        first = cur.fetchmany(2)
        return [cur.description[0].name, len(first) + len(cur.fetchall())]


TYPED = "SELECT model_a, turn_len_a, ts, 1.5::float8 AS x, true AS b FROM votes ORDER BY ts LIMIT 3"
run("select", lambda c: one(c, "SELECT count(*) FROM votes"))
run("param", lambda c: one(c, "SELECT count(*) FROM votes WHERE category = %s", ("coding",)))
run("binary", lambda c: one(c, TYPED, binary=True))
run("binary_param", lambda c: one(c, "SELECT %s::bigint + 1, %s::text", (41, "x"), binary=True))
run("named_cursor", lambda c: named(c, "SELECT model_a FROM votes LIMIT 5"))
run("named_cursor_param", lambda c: named(c, "SELECT model_a FROM votes WHERE category = %s LIMIT 5", ("coding",)))
run("named_cursor_binary", lambda c: named(c, TYPED, binary=True))
run("bt_rank_raw", lambda c: one(c, "SELECT bt_rank(model_a, model_b, winner) FROM votes")[0][0][:60])
def copy_out(conn, fmt):
    with conn.cursor().copy(f"COPY (SELECT model_a, turn_len_a FROM votes LIMIT 3) TO STDOUT {fmt}") as copy:
        return len(b"".join(bytes(chunk) for chunk in copy))


run("copy_text", lambda c: copy_out(c, ""))
run("copy_csv", lambda c: copy_out(c, "(FORMAT csv)"))
run("copy_binary", lambda c: copy_out(c, "(FORMAT binary)"))
run("discard_all", lambda c: c.execute("DISCARD ALL").statusmessage, autocommit=True)
run("show_settings", lambda c: {s: one(c, f"SHOW {s}")[0][0] for s in (
    "standard_conforming_strings", "client_encoding", "server_version_num", "integer_datetimes")})
run("current_user", lambda c: one(c, "SELECT current_user, session_user"))
run("labels", lambda c: [d.name for d in c.execute("SELECT 1, count(*) FROM votes").description])
run("info_schema_types", lambda c: one(c, "SELECT column_name, data_type FROM information_schema.columns "
                                          "WHERE table_name = 'votes' ORDER BY ordinal_position"))
run("pg_roles", lambda c: one(c, "SELECT 1 FROM pg_catalog.pg_roles LIMIT 1"))
print(json.dumps(out))
