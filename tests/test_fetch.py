"""sso.fetch: MPCORB downloads from a loopback HTTP server, installed only once they validate."""

import gzip
import hashlib
import http.server
import threading
import time

import pytest

from ephemerides import read_orbits
from sso.cli import main
from sso.fetch import DEFAULT_URL, fetch_orbits

HEADER = (
    "MINOR PLANET CENTER ORBIT DATABASE (MPCORB)\n"
    "\n"
    "This file contains published orbital elements for all numbered and unnumbered\n"
    "multi-opposition minor planets for which it is possible to make reasonable predictions.\n"
    "\n"
    "Des'n     H     G   Epoch     M        Peri.      Node       Incl.       e            n"
    "           a        Reference #Obs #Opp    Arc    rms  Perts   Computer\n"
    "\n" + "-" * 160 + "\n"
)
# Five records of ../shared/data/orbits/nea_mpcorb_epoch_2016.txt, each split over three literals.
RECORDS = (
    "00433   11.16  0.46 K161D  95.36120  178.79795  304.32983   10.82861  0.2226787  "
    "0.55991538   1.4578778  0 MPO355095  6896  49 1893-2014 0.66 M-v 38h MPCLINUX   1"
    "804    (433) Eros               20141222\n"
    "00719   15.5   0.15 K161D 132.63149  156.01908  183.97346   11.56459  0.5508742  "
    "0.23065620   2.6332533  0 MPO365250  1080  15 1911-2016 0.42 M-v 38h MPCLINUX   1"
    "804    (719) Albert             20160206\n"
    "90147   18.3   0.15 K161D 118.77694  105.01455  282.74411   27.98897  0.3315824  "
    "0.55053751   1.4743868  1 MPO284745   110   6 1987-2014 0.54 M-h 3Eh MPCLINUX   0"
    "803  (90147) 2002 YK14          20140118\n"
    "K04S56B 19.2   0.15 K161D 202.70727  233.49612  302.07450   18.69328  0.2378924  "
    "1.22297711   0.8660118  2 MPO254731   236   3 2004-2013 0.41 M-v 3Eh MPCADO     0"
    "802          2004 SB56          20130107\n"
    "K14F54H 22.2   0.15 K161D 155.51571   48.65784   13.96526   15.29457  0.8697244  "
    "0.22057723   2.7128697  8 MPO290438    29   1    7 days 0.25 M-v 3Eh MPCALB     2"
    "803          2014 FH54          20140407\n"
)
DESIGNATIONS = ["433", "719", "90147", "2004 SB56", "2014 FH54"]
PLAIN = (HEADER + RECORDS).encode("ascii")
GZIPPED = gzip.compress(PLAIN, mtime=0)
OLD = b"the previous catalogue, which must survive a failed update\n"


class Server:
    """A loopback HTTP server answering each path with a prepared (status, body, headers)."""

    def __init__(self):
        self.routes = {}
        self.requested = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requested.append(self.path)
                status, body, headers, delay_s = server.routes.get(
                    self.path, (404, b"<html>not found</html>", {}, 0.0)
                )
                time.sleep(delay_s)
                self.send_response(status)
                headers = {"Content-Length": str(len(body)), **headers}
                for name, value in headers.items():
                    if value is not None:  # None: leave the header out
                        self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def serve(self, path, body, status=200, headers=None, delay_s=0.0):
        self.routes[path] = (status, body, headers or {}, delay_s)
        return self.url(path)

    def url(self, path):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.close()


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_default_url_is_the_mpc_catalogue():
    assert DEFAULT_URL == "https://minorplanetcenter.net/iau/MPCORB/MPCORB.DAT.gz"


def test_gzipped_download(server, tmp_path):
    url = server.serve("/iau/MPCORB/MPCORB.DAT.gz", GZIPPED)
    out = tmp_path / "MPCORB.DAT.gz"
    calls = []
    result = fetch_orbits(out, url=url, progress=calls.append)
    assert result == {
        "path": str(out),
        "url": url,
        "bytes": len(GZIPPED),
        "orbits": 5,
        "sha256": hashlib.sha256(GZIPPED).hexdigest(),
    }
    assert out.read_bytes() == GZIPPED  # written exactly as served
    assert read_orbits(out)["object_id"].tolist() == DESIGNATIONS
    # The stage's first report, one per chunk (one here), and its last.
    assert [(u.stage, u.done, u.total, u.finished) for u in calls] == [
        ("download", 0, len(GZIPPED), False), ("download", len(GZIPPED), len(GZIPPED), False),
        ("download", len(GZIPPED), len(GZIPPED), True)]
    assert server.requested == ["/iau/MPCORB/MPCORB.DAT.gz"]
    assert _files(tmp_path) == ["MPCORB.DAT.gz"]


def test_plain_download_replaces_old_file(server, tmp_path):
    url = server.serve("/mirror/MPCORB.DAT?day=2016-01-13", PLAIN)
    out = tmp_path / "MPCORB.DAT"
    out.write_bytes(OLD)
    result = fetch_orbits(str(out), url=url)
    assert result["bytes"] == len(PLAIN)
    assert result["orbits"] == 5
    assert result["sha256"] == hashlib.sha256(PLAIN).hexdigest()
    assert out.read_bytes() == PLAIN
    assert read_orbits(out, format="mpcorb")["object_id"].tolist() == DESIGNATIONS
    assert server.requested == ["/mirror/MPCORB.DAT?day=2016-01-13"]
    assert _files(tmp_path) == ["MPCORB.DAT"]


def test_progress_in_chunks_without_content_length(server, tmp_path, monkeypatch):
    monkeypatch.setattr("sso.fetch.CHUNK_BYTES", 256)
    # A response of unknown length: no Content-Length, ended by closing the connection.
    url = server.serve("/MPCORB.DAT", PLAIN, headers={"Content-Length": None})
    calls = []
    fetch_orbits(tmp_path / "MPCORB.DAT", url=url, progress=calls.append)
    chunks = [u.done for u in calls[1:-1]]
    assert chunks == sorted(set(chunks)) and chunks[-1] == len(PLAIN)
    assert len(chunks) == -(-len(PLAIN) // 256)
    assert {u.total for u in calls} == {None} and calls[-1].finished


def test_file_url(tmp_path):
    source = tmp_path / "mirror" / "MPCORB.DAT.gz"
    source.parent.mkdir()
    source.write_bytes(GZIPPED)
    out = tmp_path / "MPCORB.DAT.gz"
    result = fetch_orbits(out, url=source.as_uri())
    assert result["orbits"] == 5
    assert out.read_bytes() == GZIPPED


def _assert_untouched(folder, out):
    assert out.read_bytes() == OLD
    assert _files(folder) == [out.name]


def test_http_404_leaves_old_file(server, tmp_path):
    url = server.url("/MPCORB.DAT.gz")  # nothing served there
    out = tmp_path / "MPCORB.DAT.gz"
    out.write_bytes(OLD)
    with pytest.raises(OSError, match="404") as info:
        fetch_orbits(out, url=url)
    assert url in str(info.value)
    assert "\n" not in str(info.value)
    _assert_untouched(tmp_path, out)
    assert server.requested == ["/MPCORB.DAT.gz"]


def test_not_mpcorb_leaves_old_file(server, tmp_path):
    html = b"<!DOCTYPE html>\n<html><body>Service temporarily unavailable</body></html>\n"
    url = server.serve("/MPCORB.DAT", html)
    out = tmp_path / "MPCORB.DAT"
    out.write_bytes(OLD)
    with pytest.raises(ValueError, match="validation failed") as info:
        fetch_orbits(out, url=url)
    assert url in str(info.value)
    assert ".tmp" not in str(info.value)  # the temporary name is replaced by the URL
    assert "errors=" not in str(info.value)  # fetch_orbits has no such option
    _assert_untouched(tmp_path, out)


def test_header_without_records_is_rejected(server, tmp_path):
    url = server.serve("/MPCORB.DAT", HEADER.encode())
    out = tmp_path / "MPCORB.DAT"
    out.write_bytes(OLD)
    with pytest.raises(ValueError, match="no MPCORB orbit records"):
        fetch_orbits(out, url=url)
    _assert_untouched(tmp_path, out)


def test_truncated_gzip_leaves_old_file(server, tmp_path):
    url = server.serve("/MPCORB.DAT.gz", GZIPPED[: len(GZIPPED) // 2])
    out = tmp_path / "MPCORB.DAT.gz"
    out.write_bytes(OLD)
    with pytest.raises(ValueError, match="gzip"):
        fetch_orbits(out, url=url)
    _assert_untouched(tmp_path, out)


def test_connection_closed_early_leaves_old_file(server, tmp_path):
    # Cut at a line boundary, so the partial file alone would still read as MPCORB: only the
    # Content-Length tells it is incomplete.
    cut = PLAIN[: PLAIN.rindex(b"\n", 0, len(PLAIN) - 1) + 1]
    url = server.serve("/MPCORB.DAT", cut, headers={"Content-Length": str(len(PLAIN))})
    out = tmp_path / "MPCORB.DAT"
    out.write_bytes(OLD)
    with pytest.raises(OSError, match=f"{len(cut)} of {len(PLAIN)} bytes"):
        fetch_orbits(out, url=url)
    _assert_untouched(tmp_path, out)


def test_timeout(server, tmp_path):
    url = server.serve("/MPCORB.DAT.gz", GZIPPED, delay_s=1.0)
    out = tmp_path / "MPCORB.DAT.gz"
    out.write_bytes(OLD)
    with pytest.raises(OSError, match="timed out") as info:
        fetch_orbits(out, url=url, timeout_s=0.1)
    assert url in str(info.value)
    _assert_untouched(tmp_path, out)


def test_unreachable_host(tmp_path):
    out = tmp_path / "MPCORB.DAT.gz"
    missing = (tmp_path / "nowhere.gz").as_uri()
    with pytest.raises(OSError, match=r"nowhere\.gz"):
        fetch_orbits(out, url=missing)
    assert _files(tmp_path) == []


def test_empty_payload(server, tmp_path):
    url = server.serve("/MPCORB.DAT", b"")
    with pytest.raises(ValueError, match="empty"):
        fetch_orbits(tmp_path / "MPCORB.DAT", url=url)
    assert _files(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "body", "wanted"),
    [("MPCORB.DAT", GZIPPED, "MPCORB.DAT.gz"), ("MPCORB.DAT.gz", PLAIN, "MPCORB.DAT")],
)
def test_suffix_must_match_payload(server, tmp_path, name, body, wanted):
    url = server.serve("/payload", body)
    out = tmp_path / name
    out.write_bytes(OLD)
    with pytest.raises(ValueError, match=r"\.gz") as info:
        fetch_orbits(out, url=url)
    assert str(out) in str(info.value)
    assert url in str(info.value)
    assert f"name it {wanted}" in str(info.value)
    _assert_untouched(tmp_path, out)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        fetch_orbits(tmp_path / "missing" / "MPCORB.DAT.gz")
    with pytest.raises(ValueError, match="is a folder"):
        fetch_orbits(tmp_path)
    with pytest.raises(ValueError, match="scheme 'ftp'"):
        fetch_orbits(tmp_path / "MPCORB.DAT.gz", url="ftp://example.org/MPCORB.DAT.gz")
    with pytest.raises(ValueError, match="timeout_s"):
        fetch_orbits(tmp_path / "MPCORB.DAT.gz", timeout_s=0)
    assert _files(tmp_path) == []


def test_interrupted_download_leaves_nothing(server, tmp_path):
    url = server.serve("/MPCORB.DAT.gz", GZIPPED)
    out = tmp_path / "MPCORB.DAT.gz"
    out.write_bytes(OLD)

    def interrupt(update):
        if update.done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch_orbits(out, url=url, progress=interrupt)
    _assert_untouched(tmp_path, out)


def test_cli_fetch_writes_the_validated_catalogue(server, tmp_path, capsys):
    """``sso orbits fetch``: the catalogue lands at --out; a failure is one line, exit 2."""
    url = server.serve("/iau/MPCORB/MPCORB.DAT.gz", GZIPPED)
    out = tmp_path / "MPCORB.DAT.gz"
    assert main(["orbits", "fetch", "--url", url, "--out", str(out)]) == 0
    assert out.read_bytes() == GZIPPED
    assert "5 orbits" in capsys.readouterr().err
    missing = server.url("/gone/MPCORB.DAT.gz")
    assert main(["orbits", "fetch", "--url", missing, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "404" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == GZIPPED
