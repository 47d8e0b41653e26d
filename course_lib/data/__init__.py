"""Datasets: MovieLens (downloaded, verified and cached) and the course's tiny hand-made table."""

from .download import DATASETS, DatasetError, default_cache_dir, fetch, is_cached, verify_folder
from .movielens import (
    MovieLens, genre_matrix, load_ml1m, load_ml25m, load_ml32m, load_ml100k, load_ml_latest_small, load_movielens,
    load_tags, read_movies_csv, read_ratings_csv, tags_per_item,
)
from .toy import toy_matrix, toy_movies, toy_ratings

__all__ = [
    "DATASETS", "DatasetError", "MovieLens", "default_cache_dir", "fetch", "genre_matrix", "is_cached",
    "load_ml1m", "load_ml25m", "load_ml32m", "load_ml100k", "load_ml_latest_small", "load_movielens",
    "load_tags", "read_movies_csv", "read_ratings_csv", "tags_per_item", "toy_matrix", "toy_movies", "toy_ratings", "verify_folder",
]
