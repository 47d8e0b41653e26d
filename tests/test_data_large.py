"""MovieLens 25M and 32M: the CSV reader on a synthetic file in GroupLens's format, and fetching through
a local mirror (zip MD5 before extraction, unzipped folders, file:// URLs, row counts), all offline."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course_lib.data import DatasetError, fetch, load_movielens, read_movies_csv, read_ratings_csv
from course_lib.data.checksums import RATING_COUNTS, ZIP_MD5
from course_lib.data.download import md5_of

RATINGS = ("userId,movieId,rating,timestamp\n1,296,5.0,1147880044\n1,306,3.5,1147868817\n2,1,0.5,1141415820\n"
           "3,209163,4.5,1697163000\n")
MOVIES = ('movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n'
          '296,Pulp Fiction (1994),Comedy|Crime|Drama|Thriller\n'
          '306,"Three Colors: Red (Trois couleurs: Rouge) (1994)",Drama\n'
          '209163,Bad Poems (2018),(no genres listed)\n')


def _dataset_folder(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "ratings.csv").write_text(RATINGS)
    (folder / "movies.csv").write_text(MOVIES)
    (folder / "links.csv").write_text("movieId,imdbId,tmdbId\n1,0114709,862\n")
    (folder / "tags.csv").write_text("userId,movieId,tag,timestamp\n3,260,classic,1439472355\n")
    return folder


def _zip_mirror(root: Path, name: str) -> Path:
    folder = _dataset_folder(root / "src", name)
    mirror = root / "mirror"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / f"{name}.zip", "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"{name}/{f.name}")
    return mirror


def test_read_ratings_csv_dtypes_order_and_memory(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text(RATINGS)
    r = read_ratings_csv(path)
    assert list(r.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert r.dtypes.to_dict() == {"user_id": "int32", "item_id": "int32", "rating": "float64", "timestamp": "int64"}
    assert r.item_id.tolist() == [296, 306, 1, 209163] and r.rating.tolist() == [5.0, 3.5, 0.5, 4.5]
    c = read_ratings_csv(path, compact=True)
    assert c.dtypes.to_dict() == {"user_id": "int32", "item_id": "int32", "rating": "float32", "timestamp": "int32"}
    assert c.memory_usage(index=False).sum() == 16 * 4 and r.memory_usage(index=False).sum() == 24 * 4
    assert np.array_equal(c.rating.to_numpy(dtype=float), r.rating.to_numpy())  # half stars are exact in float32


def test_read_ratings_csv_refuses_other_files(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\n1,2,3\n")
    with pytest.raises(DatasetError, match="could not be parsed"):
        read_ratings_csv(path)
    path.write_text("userId,movieId,rating,timestamp\n1,2,3.0,99999999999\n")
    with pytest.raises(DatasetError, match="do not fit int32; load without compact=True"):
        read_ratings_csv(path, compact=True)


def test_read_movies_csv(tmp_path):
    path = tmp_path / "movies.csv"
    path.write_text(MOVIES)
    m = read_movies_csv(path).set_index("item_id")
    assert m.loc[306, "title"].startswith("Three Colors") and m.loc[306, "year"] == 1994
    assert m.loc[209163, "genres"] == "(no genres listed)"


def test_a_zip_with_another_md5_is_refused_before_extraction(tmp_path):
    mirror = _zip_mirror(tmp_path, "ml-25m")
    cache = tmp_path / "cache"
    with pytest.raises(DatasetError, match=r"(?s)has MD5 [0-9a-f]{32}, expected 6b51fb2759a8657d3bfcbfc42b592ada.*"
                                           r"ml-25m\.zip\.md5.*COURSE_DATA_MIRROR"):
        fetch("ml-25m", cache_dir=cache, mirror=mirror)
    assert list(cache.iterdir()) == []


@pytest.mark.parametrize("name", ["ml-25m", "ml-32m"])
def test_fetch_and_load_through_a_mirror_zip(tmp_path, monkeypatch, name):
    mirror = _zip_mirror(tmp_path, name)
    monkeypatch.setitem(ZIP_MD5, name, md5_of(mirror / f"{name}.zip"))  # the synthetic archive's own sum
    folder = fetch(name, cache_dir=tmp_path / "cache", mirror=mirror.as_uri(), progress=False)  # the download path
    marker = json.loads((folder / ".verified.json").read_text())
    assert marker["zip_md5"] == ZIP_MD5[name]
    with pytest.raises(DatasetError, match=f"ratings.csv has 4 rows, expected {RATING_COUNTS[name]:,}.*--force"):
        load_movielens(name, cache_dir=tmp_path / "cache")
    monkeypatch.setitem(RATING_COUNTS, name, 4)
    ml = load_movielens(name, cache_dir=tmp_path / "cache", compact=True)
    assert ml.ratings.shape == (4, 4) and ml.ratings.rating.dtype == np.float32 and ml.users is None
    assert f"MovieLens('{name}': 4 ratings, 3 users" in repr(ml)


def test_an_unzipped_mirror_folder_is_taken_and_the_marker_says_what_was_not_checked(tmp_path, monkeypatch):
    _dataset_folder(tmp_path / "mirror", "ml-32m")
    folder = fetch("ml-32m", cache_dir=tmp_path / "cache", mirror=tmp_path / "mirror")
    assert "not checked" in json.loads((folder / ".verified.json").read_text())["zip_md5"]
    monkeypatch.setitem(RATING_COUNTS, "ml-32m", 4)
    assert pd.api.types.is_float_dtype(load_movielens("ml-32m", cache_dir=tmp_path / "cache").ratings.rating)


def test_compact_is_for_the_large_datasets_only():
    with pytest.raises(ValueError, match="compact=True is for the large datasets"):
        load_movielens("ml-100k", compact=True)
