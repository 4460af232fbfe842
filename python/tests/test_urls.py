"""Tables at URLs, registered from Python by the CLI's rules: a Parquet file served over
HTTP on loopback by a small server that answers range requests, as object stores do."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import prefdb

VOTES = pa.table(
    {
        "model_a": ["a", "b", "c", "a", "b", "c"] * 50,
        "model_b": ["b", "c", "a", "c", "a", "b"] * 50,
        "winner": ["model_a", "model_a", "tie", "model_b", "model_a", "model_b"] * 50,
    }
)


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Files of one directory, with the single byte ranges object stores ask for."""

    requests: list[str] = []

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_PROPFIND(self) -> None:  # noqa: N802: a listing; this server has none
        self.send_error(404)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.requests.append(f"GET {self.headers.get('Range', 'whole')}")
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        wanted = self.headers.get("Range")
        if wanted is None:
            self.send_response(200)
            body = data
        else:
            start, _, end = wanted.removeprefix("bytes=").partition("-")
            first = int(start) if start else len(data) - int(end)
            last = int(end) if start and end else len(data) - 1
            body = data[first : last + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {first}-{first + len(body) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Last-Modified", self.date_time_string(int(path.stat().st_mtime)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    pq.write_table(VOTES, tmp_path / "votes.parquet")
    RangeHandler.requests = []
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: RangeHandler(*a, directory=str(tmp_path))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def board(session: prefdb.Session) -> list[tuple]:
    return session.sql(
        "SELECT item, rating FROM leaderboard('SELECT bt_rank(model_a, model_b, winner) FROM votes') ORDER BY item"
    ).fetchall()


def test_a_parquet_url_registers_and_reads_by_range(served: str) -> None:
    local = prefdb.connect({"votes": VOTES})
    remote = prefdb.connect()
    remote.register("votes", f"{served}/votes.parquet")
    assert board(remote) == board(local)
    assert any(r.startswith("GET bytes=") for r in RangeHandler.requests), RangeHandler.requests
    assert remote.sql("SELECT count(*) FROM votes").fetchall() == [(300,)]


def test_urls_in_connect_and_in_the_config_file(served: str, tmp_path: Path) -> None:
    url = f"{served}/votes.parquet"
    assert board(prefdb.connect({"votes": url})) == board(prefdb.connect({"votes": VOTES}))
    config = tmp_path / "prefdb.toml"
    config.write_text(f'[tables]\nvotes = "{url}"\n\n[stores.http]\nallow_http = true\n')
    session = prefdb.connect(config=config)
    assert session.tables() == ["votes"]
    assert board(session) == board(prefdb.connect({"votes": VOTES}))
    # Queried by URL directly, as the CLI allows.
    assert prefdb.sql(f"SELECT count(*) FROM '{url}'").fetchall() == [(300,)]


def test_a_missing_url_is_a_table_error(served: str) -> None:
    url = f"{served}/nothere.parquet"
    with pytest.raises(prefdb.TableError) as caught:
        prefdb.connect().register("votes", url)
    assert str(caught.value) == f"table 'votes': no such file: '{url}'"
