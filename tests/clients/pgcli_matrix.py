"""pgcli's completion-refresh queries against the server: pgcli_matrix.py PORT.

Runs every query pgcli's CompletionRefresher runs (pgcli.pgexecute.PGExecute methods).
Prints one JSON object: for each operation {"ok": short result} or
{"error": message, "sqlstate": code}. Each operation gets its own connection.
"""
import json
import sys

from pgcli.pgexecute import PGExecute

port = int(sys.argv[1])
out = {}


def run(name, fn):
    try:
        executor = PGExecute("prefdb", "prefdb", None, "127.0.0.1", port, None, connect_timeout=10)
        try:
            result = fn(executor)
            out[name] = {"ok": result if isinstance(result, (str, bool)) else [str(r) for r in list(result)[:3]]}
        finally:
            executor.conn.close()
    except Exception as e:  # one failure per operation, then go on
        out[name] = {"error": str(e).strip().splitlines()[0], "sqlstate": getattr(e, "sqlstate", None)}


run("connect", lambda ex: ex.server_version)
for method in ("search_path", "schemata", "tables", "views", "view_columns", "foreignkeys",
               "datatypes", "databases", "functions", "casing"):
    run(method, lambda ex: getattr(ex, method)())
# (schema, table, column, type name, has default, default) for the votes table.
run("table_columns", lambda ex: [c for c in ex.table_columns() if c[1] == "votes"])
print(json.dumps(out))
