"""SHA-256 sums of the MovieLens files the course verifies after every download or copy.

The sums are those of GroupLens's own files, byte for byte as they come out of the official
zip archives. ML-1M has no sums recorded here yet: its loader checks row counts instead.

MovieLens 25M and 32M are checked as GroupLens publishes them: one MD5 per zip archive
(``https://files.grouplens.org/datasets/movielens/ml-25m.zip.md5``), verified before anything is
extracted, then the row counts of ``ratings.csv`` (GroupLens's README) when it is read. The MD5s
and sizes below were copied from GroupLens's ``.md5`` files as quoted, identically, by several
independent public projects that downloaded the archives; they could not be checked against a
download on the machines that wrote this module (no access to GroupLens). A mismatch is therefore
reported with the address of GroupLens's own ``.md5`` file, so that a re-issued archive can be told
from a corrupt one.
"""

from __future__ import annotations

SHA256: dict[str, dict[str, str]] = {
    "ml-100k": {
        "README": "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52",
        "allbut.pl": "bfc6a75cbd65c74bb38a0b580dbe866af252733dfa9a65a2c4b93258774ee8a3",
        "mku.sh": "7929735c375e89a04340e34de621bf2ea643cd04b0bcda2c6f458e4be961ae71",
        "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
        "u.info": "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b",
        "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
        "u.occupation": "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d",
        "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
        "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
        "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
        "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
        "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
        "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
        "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
        "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
        "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
        "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
        "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
        "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
        "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
        "ub.base": "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
        "ub.test": "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
    },
    "ml-latest-small": {
        "README.txt": "63d22ac138e80fae37021797ed8e1b9424b5239dc576a137422adf783ae3f404",
        "links.csv": "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
        "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
        "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
        "tags.csv": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
    },
    # No published or verified sums on record: the loader checks the files exist and the
    # row counts GroupLens documents (1,000,209 ratings, 3,883 movies, 6,040 users).
    "ml-1m": {},
    # Checked by the zip's MD5 (ZIP_MD5) and the row counts (RATING_COUNTS) instead of per-file sums.
    "ml-25m": {},
    "ml-32m": {},
}

#: MD5 of the zip archive, as GroupLens publishes it next to the archive (``<name>.zip.md5``).
ZIP_MD5: dict[str, str] = {
    "ml-25m": "6b51fb2759a8657d3bfcbfc42b592ada",  # 261,978,986 bytes
    "ml-32m": "d472be332d4daa821edc399621853b57",  # 238,950,008 bytes
}

#: Ratings in ratings.csv, from GroupLens's READMEs (25M: 162,541 users, 62,423 movies;
#: 32M: 200,948 users, 87,585 movies).
RATING_COUNTS: dict[str, int] = {"ml-25m": 25_000_095, "ml-32m": 32_000_204}

#: Files each dataset must contain (with or without a recorded checksum).
REQUIRED_FILES: dict[str, tuple[str, ...]] = {
    "ml-100k": ("u.data", "u.item", "u.user", "u.genre", "u.occupation"),
    "ml-latest-small": ("ratings.csv", "movies.csv", "links.csv", "tags.csv"),
    "ml-1m": ("ratings.dat", "movies.dat", "users.dat"),
    "ml-25m": ("ratings.csv", "movies.csv", "links.csv", "tags.csv"),
    "ml-32m": ("ratings.csv", "movies.csv", "links.csv", "tags.csv"),
}
