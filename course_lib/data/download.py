"""Fetch MovieLens into the course's cache: download or copy, verify, then move into place.

MovieLens may not be redistributed, so the course never ships it. :func:`fetch` gets a dataset
from one of three places, in this order:

1. the ``mirror`` argument, or the ``COURSE_DATA_MIRROR`` environment variable: a folder that
   holds ``ml-100k/u.data`` ... (raw files) or ``ml-100k.zip``, or a URL prefix under which
   ``ml-100k.zip`` can be downloaded (``http://``, ``https://`` or ``file://``);
2. GroupLens's download site, https://files.grouplens.org/datasets/movielens/.

Everything is written into a temporary folder next to the cache. Every file with a recorded
SHA-256 sum is checked (for MovieLens 25M and 32M: the zip archive's MD5, before extraction; see
``checksums.py``); only when all pass is the folder renamed into place (an atomic rename on
one file system). A failed, interrupted or corrupt download therefore never leaves a half-written
cache behind: either the whole verified dataset is there, or nothing is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import ssl
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from .checksums import REQUIRED_FILES, SHA256, ZIP_MD5

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/"
DATASETS = tuple(SHA256)
_MARKER = ".verified.json"


class DatasetError(RuntimeError):
    """A dataset could not be fetched, verified or read. The message says how to fix it."""

    def _render_traceback_(self) -> list[str]:
        # Jupyter shows just the message, not a traceback through the loader's internals.
        return [f"DatasetError: {self}"]


def _fix_hint(name: str) -> str:
    return (
        "Two ways to fix it:\n"
        f"  1. with internet access: python -m course_lib.data fetch {name}\n"
        f"  2. offline: put GroupLens's {name}.zip (or its unzipped {name}/ folder) in a folder "
        "and set COURSE_DATA_MIRROR to that folder, then run the same command."
    )


def check_name(name: str) -> str:
    """Return ``name`` if it is a dataset the course knows, else raise a clear error."""
    if name not in SHA256:
        raise DatasetError(f"unknown dataset {name!r}; the course knows {', '.join(DATASETS)}")
    return name


def default_cache_dir() -> Path:
    """The cache folder: ``$COURSE_DATA_DIR``, else the checkout's ``data/``, else ``~/.cache``."""
    env = os.environ.get("COURSE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "notebooks").is_dir():
        return checkout / "data"
    return Path.home() / ".cache" / "recsys-course"


def sha256_of(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_folder(name: str, folder: Path, files: tuple[str, ...] | None = None, where: str | None = None) -> None:
    """Check that ``folder`` holds the files of dataset ``name`` with their recorded sums.

    Parameters
    ----------
    files : the files to check (default: every required file and every file with a sum).
    where : how messages name the files' origin (default: ``folder``).

    Raises
    ------
    DatasetError naming the first missing, empty or altered file.
    """
    sums = SHA256[name]
    where = where or str(folder)
    wanted = files if files is not None else tuple(dict.fromkeys(REQUIRED_FILES[name] + tuple(sums)))
    for fname in wanted:
        path = folder / fname
        if not path.is_file():
            raise DatasetError(f"{name}: the file {fname} is missing from {where}")
        if path.stat().st_size == 0:
            raise DatasetError(f"{name}: the file {fname} in {where} is empty")
        expected = sums.get(fname)
        if expected is not None:
            actual = sha256_of(path)
            if actual != expected:
                raise DatasetError(
                    f"{name}: {fname} from {where} has SHA-256 {actual[:12]}..., expected "
                    f"{expected[:12]}...: the file is corrupt, truncated or not GroupLens's original"
                )


def md5_of(path: Path) -> str:
    """MD5 of a file, read in 1 MiB blocks (GroupLens publishes MD5s of its large archives)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_zip(name: str, archive: Path, where: str) -> None:
    """Check a dataset's zip archive against the MD5 GroupLens publishes, when one is recorded (ZIP_MD5)."""
    expected = ZIP_MD5.get(name)
    if expected is None:
        return
    actual = md5_of(archive)
    if actual != expected:
        raise DatasetError(
            f"{name}: {where} has MD5 {actual}, expected {expected} (GroupLens's published sum): the archive is "
            f"corrupt, truncated or not GroupLens's original. If GroupLens has re-issued it, its sum is at "
            f"{GROUPLENS_URL}{name}.zip.md5"
        )


def _download(url: str, dest: Path, progress: bool) -> None:
    """Download ``url`` to ``dest`` with a tqdm progress bar."""
    from tqdm.auto import tqdm

    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    bar.update(len(block))
    except urllib.error.URLError as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLError) or "CERTIFICATE" in str(reason).upper():
            why = f"the server's TLS certificate was rejected ({reason}); GroupLens's certificate has lapsed before"
        else:
            why = f"no connection ({reason})"
        raise DatasetError(f"could not download {url}: {why}") from exc
    except OSError as exc:  # connection reset, timeout, disk full ...
        raise DatasetError(f"could not download {url}: {exc}") from exc


def _extract(name: str, archive: Path, dest: Path) -> None:
    """Extract the members under ``name/`` of a GroupLens zip into ``dest`` (flattened)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise DatasetError(f"{archive.name}: member {bad} is corrupt; download it again")
            for member in zf.infolist():
                parts = Path(member.filename).parts
                if member.is_dir() or len(parts) != 2 or parts[0] != name:
                    continue
                with zf.open(member) as src, open(dest / parts[1], "wb") as out:
                    shutil.copyfileobj(src, out)
    except zipfile.BadZipFile as exc:
        raise DatasetError(f"{archive.name} is not a complete zip archive (truncated download?): {exc}") from exc


def _resolve_mirror(mirror: str | os.PathLike | None) -> str | None:
    if mirror is None:
        mirror = os.environ.get("COURSE_DATA_MIRROR") or None
    return None if mirror is None else str(mirror)


def _fill_from(name: str, source: str, work: Path, progress: bool) -> str:
    """Put the raw files of ``name`` into ``work`` from ``source``; return a description."""
    if source.startswith(("http://", "https://", "file://")):
        url = source.rstrip("/") + f"/{name}.zip"
        archive = work / f"{name}.zip"
        _download(url, archive, progress)
        check_zip(name, archive, url)
        _extract(name, archive, work)
        archive.unlink()
        return url
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise DatasetError(
            f"the mirror {source!r} is neither an existing folder nor an http(s):// or file:// URL; "
            "set COURSE_DATA_MIRROR to a folder holding "
            f"{name}/ or {name}.zip"
        )
    if (folder / name).is_dir():
        for fname in REQUIRED_FILES[name] + tuple(SHA256[name]):
            src = folder / name / fname
            if not src.is_file():
                raise DatasetError(f"the mirror folder {folder / name} has no {fname}")
            if not os.access(src, os.R_OK):
                raise DatasetError(f"the mirror file {src} is not readable (check its permissions)")
            shutil.copyfile(src, work / fname)
        return str(folder / name)
    if (folder / f"{name}.zip").is_file():
        check_zip(name, folder / f"{name}.zip", str(folder / f"{name}.zip"))
        _extract(name, folder / f"{name}.zip", work)
        return str(folder / f"{name}.zip")
    raise DatasetError(f"the mirror folder {folder} holds neither {name}/ nor {name}.zip")


def is_cached(name: str, cache_dir: str | os.PathLike | None = None) -> bool:
    """True when a verified copy of ``name`` is in the cache."""
    folder = Path(cache_dir or default_cache_dir()) / check_name(name)
    return (folder / _MARKER).is_file()


def fetch(
    name: str = "ml-100k",
    *,
    cache_dir: str | os.PathLike | None = None,
    mirror: str | os.PathLike | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Make sure a verified copy of dataset ``name`` is cached; return its folder.

    Parameters
    ----------
    name : ``"ml-100k"``, ``"ml-latest-small"``, ``"ml-1m"``, ``"ml-25m"`` or ``"ml-32m"``.
    cache_dir : where datasets are kept (default :func:`default_cache_dir`).
    mirror : a folder or URL prefix to use instead of GroupLens (default ``$COURSE_DATA_MIRROR``).
    force : fetch again even if a verified copy is cached.
    progress : show a progress bar while downloading.

    Raises
    ------
    DatasetError with the reason and the two ways to fix it (internet or a mirror).
    """
    check_name(name)
    cache = Path(cache_dir or default_cache_dir())
    target = cache / name
    if (target / _MARKER).is_file() and not force:
        return target
    source = _resolve_mirror(mirror) or GROUPLENS_URL
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"cannot create the cache folder {cache}: {exc}; set COURSE_DATA_DIR elsewhere") from exc
    work = Path(tempfile.mkdtemp(prefix=f".partial-{name}-", dir=cache))
    try:
        origin = _fill_from(name, source, work, progress)
        verify_folder(name, work, where=origin)
        work.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
        marker = {"dataset": name, "verified_files": sorted(SHA256[name])}
        if name in ZIP_MD5:  # an unzipped mirror folder has no archive to check: say so
            zipped = origin.endswith(".zip")
            marker["zip_md5"] = ZIP_MD5[name] if zipped else "not checked: copied from an unzipped folder"
        (work / _MARKER).write_text(json.dumps(marker))
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{name}-", dir=cache))
            os.replace(target, old / name)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(work, target)
    except DatasetError as exc:
        raise DatasetError(f"{name} could not be fetched: {exc}\n{_fix_hint(name)}") from exc.__cause__
    except OSError as exc:
        raise DatasetError(f"{name} could not be written to {cache}: {exc}") from exc
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return target


def dataset_folder(name: str, files: tuple[str, ...], cache_dir: str | os.PathLike | None = None) -> Path:
    """The verified cache folder of ``name``, fetching it if needed; re-checks ``files``' sums."""
    folder = fetch(name, cache_dir=cache_dir)
    try:
        verify_folder(name, folder, files)
    except DatasetError as exc:
        raise DatasetError(
            f"the cached copy of {name} is damaged: {exc}. "
            f"Fetch it again with: python -m course_lib.data fetch {name} --force"
        ) from None
    return folder
