"""Rebuild the corpus folder of ``bench/data/found_qa.jsonl`` from git mirrors of its public source repositories.

The files are third-party and are not kept in this repository; ``bench/data/found_sources.tsv`` names, for each
one, the repository, the path inside it, a commit that holds that exact content and the SHA-256 of the file's
bytes. A row whose ``note`` says ``bytes=START-END`` is a cut of that blob (Python slice ``[START:END]``); a row
whose repository is ``unknown`` has no known origin and cannot be rebuilt.

    python bench/found_corpus.py --mirrors /work/.mirror --out /tmp/found [--sources bench/data/found_sources.tsv]

Mirrors are git directories laid out as ``MIRRORS/<owner>+<name>/repo`` (bare or not). Every rebuilt file is checked
against its SHA-256 before it is written; the files that could not be rebuilt are listed, and the exit status is 1
if there are any.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCES = ROOT / "bench" / "data" / "found_sources.tsv"
COLUMNS = ("file", "repo", "path", "commit", "sha256", "licence")
_CUT = re.compile(r"\bbytes=(\d+)-(\d+)\b")
_HEX40 = re.compile(r"[0-9a-f]{40}")


@dataclass(frozen=True)
class Source:
    file: str
    repo: str
    path: str
    commit: str
    sha256: str
    licence: str
    note: str = ""

    @property
    def cut(self) -> tuple[int, int] | None:
        m = _CUT.search(self.note)
        return (int(m.group(1)), int(m.group(2))) if m else None


def load_sources(path: Path) -> list[Source]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(missing)}")
        return [Source(**{c: (row.get(c) or "") for c in (*COLUMNS, "note")}) for row in reader]


def safe_relpath(file: str) -> PurePosixPath:
    rel = PurePosixPath(file)
    if rel.is_absolute() or not rel.parts or ".." in rel.parts:
        raise ValueError(f"unsafe corpus path {file!r}")
    return rel


def read_blob(mirror: Path, commit: str, path: str) -> bytes:
    done = subprocess.run(
        ["git", "--git-dir", str(mirror), "cat-file", "blob", f"{commit}:{path}"], capture_output=True, check=False
    )
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LookupError(err[-1] if err else f"git cat-file exited {done.returncode}")
    return done.stdout


def rebuild_one(src: Source, mirrors: Path, out: Path) -> str | None:
    """Write ``src`` under ``out``; return why it could not be rebuilt, or None."""
    try:
        rel = safe_relpath(src.file)
    except ValueError as e:
        return str(e)
    if src.repo in ("", "unknown") or not _HEX40.fullmatch(src.commit):
        return "no known origin" + (f" ({src.note})" if src.note else "")
    mirror = mirrors / src.repo.replace("/", "+", 1) / "repo"
    if not mirror.is_dir():
        return f"no mirror of {src.repo} at {mirror}"
    try:
        data = read_blob(mirror, src.commit, src.path)
    except LookupError as e:
        return f"{src.repo}@{src.commit[:12]}:{src.path}: {e}"
    if src.cut is not None:
        start, end = src.cut
        data = data[start:end]
    got = hashlib.sha256(data).hexdigest()
    if got != src.sha256:
        return f"SHA-256 mismatch: expected {src.sha256}, got {got}"
    dest = out.joinpath(*rel.parts)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirrors", type=Path, required=True, help="folder of git mirrors, <owner>+<name>/repo")
    ap.add_argument("--out", type=Path, required=True, help="corpus folder to write (created if absent)")
    ap.add_argument("--sources", type=Path, default=DEFAULT_SOURCES, help="found_sources.tsv")
    args = ap.parse_args(argv)

    sources = load_sources(args.sources)
    args.out.mkdir(parents=True, exist_ok=True)
    failed: list[tuple[str, str]] = []
    for src in sources:
        why = rebuild_one(src, args.mirrors, args.out)
        if why is not None:
            failed.append((src.file, why))
    print(f"rebuilt {len(sources) - len(failed)} of {len(sources)} files into {args.out}")
    for file, why in failed:
        print(f"NOT REBUILT {file}: {why}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
