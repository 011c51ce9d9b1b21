"""The MPC orbit catalogue updater: download MPCORB.DAT atomically and validate it.

The Minor Planet Center republishes its whole orbit catalogue every day as ``MPCORB.DAT.gz``
(:data:`DEFAULT_URL`, about 80 MB gzipped, a few hundred MB once unpacked). :func:`fetch_orbits`
streams it into a temporary file beside the destination, reads it fully with
:func:`ephemerides.read_orbits` (``format="mpcorb"``, ``errors="raise"``), and only then renames
the temporary file over the destination. A failed or interrupted download, an HTTP error, a
truncated file or a payload that is not MPCORB therefore leaves an existing destination file
untouched and no temporary file behind.

The payload is written exactly as served (no decompression), so the destination's suffix must
say what it holds: ``.gz`` if and only if the payload is gzipped (magic bytes ``1f 8b``).
``http://``, ``https://`` and ``file://`` URLs are accepted (the last one is handy for mirrors
and local copies).
"""

import hashlib
import logging
import math
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ephemerides.errors import InputError
from ephemerides.orbits import OrbitFormatError, read_orbits
from ephemerides.progress import Progress, stage
from sso.io import make_ordinary

logger = logging.getLogger(__name__)

DEFAULT_URL = "https://minorplanetcenter.net/iau/MPCORB/MPCORB.DAT.gz"
"""The MPC's full orbit catalogue, republished daily (about 80 MB gzipped)."""

CHUNK_BYTES = 1 << 20
URL_SCHEMES = ("http", "https", "file")
_GZIP_MAGIC = b"\x1f\x8b"
_SKIP_HINT = "; pass errors='skip' to drop such rows"


def _check_out(out) -> Path:
    out = Path(out)
    if not out.parent.is_dir():
        raise InputError(f"output folder {out.parent} does not exist; create it first")
    if out.is_dir():
        raise InputError(f"output path {out} is a folder; give a file name such as MPCORB.DAT.gz")
    return out


def _check_url(url) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InputError(f"url={url!r}; give an http(s):// or file:// URL")
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in URL_SCHEMES:
        raise InputError(
            f"url {url!r} has scheme {scheme!r}; use one of {', '.join(URL_SCHEMES)} "
            "(for a local file, file:///absolute/path)"
        )
    return url


def _check_suffix(out: Path, url: str, gzipped: bool) -> None:
    """The payload is written as served: ``out`` ends in .gz iff it is gzipped."""
    named_gz = out.suffix.lower() == ".gz"
    if gzipped and not named_gz:
        raise InputError(
            f"{url} serves a gzipped payload but output file {out} does not end with .gz; the "
            f"payload is written as downloaded, so name it {out.name}.gz"
        )
    if named_gz and not gzipped:
        raise InputError(
            f"{url} serves a payload that is not gzipped but output file {out} ends with .gz; "
            f"the payload is written as downloaded, so name it {out.with_suffix('').name}"
        )


def _download(url: str, stream, timeout_s: float, progress, out: Path) -> tuple[int, str]:
    """Stream ``url`` into the open binary ``stream``; return (bytes, sha256 hex)."""
    digest = hashlib.sha256()
    done = 0
    head = b""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None and length.strip().isdigit() else None
            bar = stage(progress, "download", total, "bytes")
            while True:
                chunk = response.read(CHUNK_BYTES)
                if not chunk:
                    break
                if len(head) < len(_GZIP_MAGIC):
                    head += chunk[: len(_GZIP_MAGIC)]
                    if len(head) >= len(_GZIP_MAGIC):
                        # Fail before the whole catalogue is downloaded.
                        _check_suffix(out, url, head.startswith(_GZIP_MAGIC))
                stream.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                bar.update(done)
            bar.close()
    except urllib.error.HTTPError as error:
        error.close()
        raise OSError(f"download of {url} failed: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise OSError(f"download of {url} failed: {error.reason}") from None
    except TimeoutError:
        raise OSError(f"download of {url} failed: timed out after {timeout_s:g} s") from None
    except OSError as error:
        raise OSError(f"download of {url} failed after {done} bytes: {error}") from None
    if done == 0:
        raise InputError(f"{url} served an empty payload (0 bytes); no orbits to install")
    if len(head) < len(_GZIP_MAGIC):
        _check_suffix(out, url, False)
    if total is not None and done != total:
        raise OSError(f"download of {url} failed: connection closed after {done} of {total} bytes")
    return done, digest.hexdigest()


def fetch_orbits(
    out,
    url: str = DEFAULT_URL,
    timeout_s: float = 60.0,
    progress: Progress | None = None,
) -> dict:
    """Download an MPCORB catalogue to ``out`` atomically, after checking that it reads.

    Parameters
    ----------
    out : str or pathlib.Path
        Destination file, in an existing folder. The payload is written as downloaded, so
        ``out`` must end with ``.gz`` if and only if the payload is gzipped (the default URL
        serves gzip: use e.g. ``MPCORB.DAT.gz``).
    url : str
        ``http://``, ``https://`` or ``file://`` URL of an MPCORB file, plain or gzipped;
        default :data:`DEFAULT_URL`, the MPC's daily catalogue.
    timeout_s : float
        Socket timeout (seconds) for connecting and for each read, not for the whole download.
    progress : callable, optional
        Receives progress reports (:mod:`ephemerides.progress`): the bytes written (stage
        ``"download"``), after each chunk (1 MiB); the total is None when the server gives no
        Content-Length. None: silent.

    Returns
    -------
    dict
        ``path`` (str, ``out``), ``url``, ``bytes`` (payload size as downloaded), ``orbits``
        (number of orbit records read) and ``sha256`` (hex digest of the payload).

    Raises
    ------
    OSError
        On HTTP errors, unreachable hosts, timeouts and connections closed early; the one-line
        message names the URL and the reason.
    ValueError
        When ``out``'s folder is missing, its suffix does not match the payload, the payload is
        empty or holds no orbits, or the payload does not read as MPCORB
        (:class:`ephemerides.orbits.OrbitFormatError`, a ValueError, listing the problems).

    In every failure an existing ``out`` is left as it was and no temporary file remains.
    """
    out = _check_out(out)
    url = _check_url(url)
    if not isinstance(timeout_s, int | float) or not math.isfinite(timeout_s) or timeout_s <= 0:
        raise InputError(f"timeout_s={timeout_s!r}; give a positive number of seconds")

    # read_orbits detects gzip by its magic bytes, not the file name, so the suffix is free.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    tmp_path = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as stream:
            logger.info("downloading %s to %s", url, out)
            n_bytes, sha256 = _download(url, stream, timeout_s, progress, out)
        try:
            orbits = read_orbits(tmp_path, format="mpcorb", errors="raise")
        except ValueError as error:
            # Name the URL, not the temporary file, and drop read_orbits' errors= hint.
            text = str(error).replace(str(tmp_path), url).replace(_SKIP_HINT, "")
            issues = getattr(error, "issues", ())
            raise OrbitFormatError(
                f"validation failed: {url} does not read as an MPCORB file, so {out} was "
                f"left unchanged: {text}",
                issues,
            ) from None
        if len(orbits) == 0:
            raise InputError(
                f"validation failed: {url} holds no MPCORB orbit records, so {out} was left "
                "unchanged"
            )
        make_ordinary(tmp_name)
        os.replace(tmp_name, out)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    logger.info("installed %d orbits (%d bytes) from %s as %s", len(orbits), n_bytes, url, out)
    return {"path": str(out), "url": url, "bytes": n_bytes, "orbits": len(orbits), "sha256": sha256}
