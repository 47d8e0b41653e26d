"""The MovieLens loader: tidy tables, checksums, atomic caching, mirrors and clear errors."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_lib.data import DatasetError, fetch, genre_matrix, load_movielens, toy_matrix, toy_ratings, verify_folder
from course_lib.data.download import sha256_of


def test_ml100k_tables(ml100k):
    r, m, u = ml100k.ratings, ml100k.movies, ml100k.users
    assert r.shape == (100_000, 4) and list(r.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert r.user_id.nunique() == 943 and r.item_id.nunique() == 1682
    assert set(r.rating.unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert r.dtypes.to_dict() == {"user_id": "int32", "item_id": "int32", "rating": "float64", "timestamp": "int64"}
    assert tuple(r.iloc[0]) == (196, 242, 3.0, 881250949)  # first line of u.data: raw order kept
    assert len(m) == 1682 and list(m.columns) == ["item_id", "title", "year", "genres"]
    assert m.set_index("item_id").loc[1, "title"] == "Toy Story (1995)"
    assert m.set_index("item_id").loc[1, "genres"] == "Animation|Children's|Comedy"
    assert m.year.isna().sum() == 1  # item 267 has no release date
    assert m.set_index("item_id").loc[181, "year"] == 1983  # Return of the Jedi, not its 1997 re-release
    assert any("é" in t for t in m.title)  # u.item is Latin-1, decoded correctly
    assert len(u) == 943 and set(u.gender) == {"M", "F"} and pd.api.types.is_string_dtype(u.zip_code) and u.zip_code.iloc[939] == "02215"
    assert "MovieLens('ml-100k': 100,000 ratings" in repr(ml100k)


def test_genre_matrix(ml100k):
    g = genre_matrix(ml100k.movies)
    assert g.shape == (1682, 18) and set(np.unique(g.to_numpy())) == {0, 1}
    assert g.loc[1, ["Animation", "Children's", "Comedy"]].tolist() == [1, 1, 1]


def test_ml_latest_small(shared_mirror, tmp_path):
    ml = load_movielens("ml-latest-small", cache_dir=tmp_path)  # copied from the mirror
    assert len(ml.ratings) == 100_836 and ml.ratings.user_id.nunique() == 610
    assert ml.ratings.rating.min() == 0.5 and ml.users is None
    assert ml.movies.set_index("item_id").loc[1, "year"] == 1995


def test_toy_table():
    r, m = toy_ratings(), toy_matrix()
    assert len(r) == m.notna().to_numpy().sum() == 24
    assert m.loc["Ana", "Toy Story"] == 5 and np.isnan(m.loc["Ana", "Fargo"])
    assert not r.duplicated(["user_id", "item_id"]).any()


# -- fetching --------------------------------------------------------------------------------

def _mirror_folder(shared_mirror, tmp_path, name="ml-100k") -> Path:
    mirror = tmp_path / "mirror"
    shutil.copytree(Path(shared_mirror) / name, mirror / name)
    return mirror


def test_fetch_from_mirror_folder_is_verified(shared_mirror, tmp_path):
    folder = fetch("ml-100k", cache_dir=tmp_path / "cache", mirror=shared_mirror)
    assert sha256_of(folder / "u.data") == "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["ml-100k"]  # no temporary leftovers
    verify_folder("ml-100k", folder)


def test_fetch_from_zip_and_file_url(shared_mirror, tmp_path):
    mirror = tmp_path / "zips"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / "ml-100k.zip", "w") as zf:
        for f in (Path(shared_mirror) / "ml-100k").iterdir():
            zf.write(f, f"ml-100k/{f.name}")
    fetch("ml-100k", cache_dir=tmp_path / "a", mirror=mirror)
    folder = fetch("ml-100k", cache_dir=tmp_path / "b", mirror=mirror.as_uri(), progress=False)
    assert (folder / "u.item").is_file()


def test_corrupt_mirror_file_leaves_no_cache(shared_mirror, tmp_path):
    mirror = _mirror_folder(shared_mirror, tmp_path)
    with open(mirror / "ml-100k" / "u.data", "r+b") as fh:
        fh.seek(1000)
        fh.write(b"9")
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError, match=r"u.data .* has SHA-256 .* expected 06416e597f82"):
        fetch("ml-100k", cache_dir=cache, mirror=mirror)
    assert list(cache.iterdir()) == []  # nothing half-written


def test_truncated_zip_is_reported(tmp_path):
    mirror = tmp_path / "m"
    mirror.mkdir()
    (mirror / "ml-100k.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DatasetError, match="not a complete zip archive"):
        fetch("ml-100k", cache_dir=tmp_path / "c", mirror=mirror)
    assert list((tmp_path / "c").iterdir()) == []


def test_missing_file_and_bad_mirror(shared_mirror, tmp_path):
    mirror = _mirror_folder(shared_mirror, tmp_path)
    (mirror / "ml-100k" / "u.item").unlink()
    with pytest.raises(DatasetError, match="has no u.item"):
        fetch("ml-100k", cache_dir=tmp_path / "c", mirror=mirror)
    with pytest.raises(DatasetError, match="neither an existing folder nor an http"):
        fetch("ml-100k", cache_dir=tmp_path / "c", mirror=str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="holds neither ml-100k/ nor ml-100k.zip"):
        fetch("ml-100k", cache_dir=tmp_path / "c", mirror=tmp_path / "c")


def test_no_network_message_names_both_fixes(tmp_path):
    with pytest.raises(DatasetError) as info:
        fetch("ml-100k", cache_dir=tmp_path, mirror="http://127.0.0.1:9/", progress=False)
    text = str(info.value)
    assert "could not download http://127.0.0.1:9/ml-100k.zip" in text
    assert "COURSE_DATA_MIRROR" in text and "python -m course_lib.data fetch ml-100k" in text
    assert [p.name for p in tmp_path.iterdir()] == []


def test_unknown_dataset():
    with pytest.raises(DatasetError, match="unknown dataset 'ml-5m'; the course knows ml-100k"):
        load_movielens("ml-5m")


def test_damaged_cache_is_detected(shared_mirror, tmp_path):
    folder = fetch("ml-100k", cache_dir=tmp_path, mirror=shared_mirror)
    (folder / "u.data").write_text("")
    with pytest.raises(DatasetError, match="cached copy of ml-100k is damaged: .*u.data .* is empty.*--force"):
        load_movielens("ml-100k", cache_dir=tmp_path)
    fetch("ml-100k", cache_dir=tmp_path, mirror=shared_mirror, force=True)
    assert len(load_movielens("ml-100k", cache_dir=tmp_path).ratings) == 100_000


def test_cli_fetch_and_verify(shared_mirror, tmp_path, monkeypatch, capsys):
    from course_lib.data.__main__ import main

    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_DATA_MIRROR", shared_mirror)
    assert main(["fetch", "ml-100k"]) == 0
    assert main(["verify", "ml-100k"]) == 0
    assert main(["fetch", "nope"]) == 1
    assert "unknown dataset 'nope'" in capsys.readouterr().err


def test_ratings_frame_is_plain_pandas(ratings):
    assert isinstance(ratings, pd.DataFrame) and ratings.index.equals(pd.RangeIndex(100_000))
