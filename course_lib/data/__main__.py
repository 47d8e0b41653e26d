"""Command line: ``python -m course_lib.data fetch ml-100k`` (also ``verify``, ``where``)."""

from __future__ import annotations

import argparse
import sys

from .download import DATASETS, DatasetError, default_cache_dir, fetch, verify_folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch", help="download (or copy from COURSE_DATA_MIRROR), verify and cache")
    p_fetch.add_argument("names", nargs="*", default=["ml-100k"], metavar="NAME", help=f"one of {', '.join(DATASETS)}")
    p_fetch.add_argument("--mirror", help="a folder or URL prefix to fetch from instead of GroupLens")
    p_fetch.add_argument("--force", action="store_true", help="fetch again even if cached")
    p_verify = sub.add_parser("verify", help="re-check the SHA-256 sums of a cached dataset")
    p_verify.add_argument("names", nargs="*", default=["ml-100k"], metavar="NAME")
    sub.add_parser("where", help="print the cache folder")
    args = parser.parse_args(argv)
    try:
        if args.command == "where":
            print(default_cache_dir())
        for name in getattr(args, "names", []):
            if args.command == "fetch":
                folder = fetch(name, mirror=args.mirror, force=args.force, progress=sys.stderr.isatty())
                print(f"{name}: verified and cached in {folder}")
            else:
                verify_folder(name, default_cache_dir() / name)
                print(f"{name}: every file matches its SHA-256 sum")
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
