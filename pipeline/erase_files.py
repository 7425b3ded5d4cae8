"""Erasing one customer from the files under the data folder: dlt load packages and state, exports, run artefacts.

Every file is read (gzip-compressed ones decompressed, Parquet decoded):

- **audience exports** (``runs/<D>/audiences/**.csv|.parquet``): the customer's rows are removed (a row is theirs when
  a field equals one of their ids or holds one of their contacts) and ``manifest.json`` gets the new row counts and
  SHA-256 of the rewritten files;
- **Parquet and JSON-lines files** (dlt load packages — completed, normalized or still pending — and anything else):
  rows that belong to the customer lose their personal columns (:data:`PERSONAL_COLUMNS`), every other value quoting
  a contact gets the tombstone; the file is rewritten in the same format and compression;
- **other text files** (dlt state and schemas, reports, quality pages, JSON steps): each stored form of a contact is
  replaced by the tombstone;
- **binary files** that hold a contact and cannot be rewritten safely (dlt's ``trace.pickle``) are deleted: they are
  diagnostics of the last run, recreated by the next one.

The database files (warehouse, SQLite ledger) are erased by their own modules and skipped here; so is the folder the
storefront emulator serves from (the *source*, which the shop erases in its own system).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from activation.ledger.erase import TOMBSTONE
from pipeline.erase_warehouse import ID_COLUMNS, PERSONAL_COLUMNS

DATABASE_SUFFIXES = (".duckdb", ".duckdb.wal", ".sqlite", ".sqlite-wal", ".sqlite-shm", ".lock", ".erasing")
BINARY_SUFFIXES = (".pickle", ".pkl")


class _Scrubber:
    """Matching and replacing for one customer."""

    def __init__(self, ids: set[str], contacts: set[str]) -> None:
        self.ids = ids
        self.needles = sorted({c for c in contacts if c}, key=len, reverse=True)
        self.raw = [n.encode() for n in self.needles]

    def hit(self, data: bytes) -> bool:
        return any(n in data for n in self.raw)

    def text(self, value: str) -> str:
        for n in self.needles:
            value = value.replace(n, TOMBSTONE)
        return value

    def owns_values(self, values: list[Any]) -> bool:
        return any(
            isinstance(v, str) and (v in self.ids or any(n in v for n in self.needles)) for v in values
        )

    def owns_record(self, record: dict) -> bool:
        if any(str(record.get(k)) in self.ids for k in record if k.lower() in ID_COLUMNS or k == "id"):
            return True
        return any(isinstance(v, str) and any(n in v for n in self.needles) for v in record.values())

    def record(self, record: Any) -> Any:
        if isinstance(record, dict):
            owned = self.owns_record(record)
            return {
                k: (None if owned and k.lower() in PERSONAL_COLUMNS else self.record(v))
                for k, v in record.items()
            }
        if isinstance(record, list):
            return [self.record(v) for v in record]
        return self.text(record) if isinstance(record, str) else record


def erase_in_files(
    data_dir: Path, ids: set[str], contacts: set[str], *, skip: tuple[Path, ...] = (), dry_run: bool = False
) -> dict[str, dict[str, int]]:
    """Scrubs every file under ``data_dir``; returns counts per area (``dlt``, ``exports``, ``other``)."""
    sc = _Scrubber(ids, contacts)
    report: dict[str, dict[str, int]] = {}
    manifests: dict[Path, dict[str, tuple[int, int | None]]] = {}
    skipped = [p.resolve() for p in skip]
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        if path.name.endswith(DATABASE_SUFFIXES) or any(path.resolve().is_relative_to(s) for s in skipped):
            continue
        area = _area(data_dir, path)
        export = area == "exports" and path.suffix in (".csv", ".parquet")
        outcome = _scrub_file(path, sc, export=export, dry_run=dry_run)
        if outcome is None:
            continue
        action, rows = outcome
        entry = report.setdefault(area, {"files_rewritten": 0, "files_deleted": 0, "rows": 0})
        entry["files_deleted" if action == "deleted" else "files_rewritten"] += 1
        entry["rows"] += rows
        if export and not dry_run:
            manifest = _manifest_of(path)
            if manifest:
                manifests.setdefault(manifest, {})[path.relative_to(manifest.parent).as_posix()] = (
                    rows,
                    None,
                )
    for manifest, changed in manifests.items():
        _update_manifest(manifest, changed)
    return report


def _area(data_dir: Path, path: Path) -> str:
    parts = path.relative_to(data_dir).parts
    if "dlt" in parts[:1]:
        return "dlt"
    if "audiences" in parts:
        return "exports"
    return "other"


def _manifest_of(path: Path) -> Path | None:
    for parent in path.parents:
        if (parent / "manifest.json").is_file() and parent.name == "audiences":
            return parent / "manifest.json"
    return None


def _scrub_file(path: Path, sc: _Scrubber, *, export: bool, dry_run: bool) -> tuple[str, int] | None:
    """Returns ``(action, rows)`` when the file held the customer, else ``None``."""
    raw = path.read_bytes()
    if path.suffix == ".parquet":
        return _parquet(path, sc, drop=export, dry_run=dry_run)
    gz = raw[:2] == b"\x1f\x8b"
    data = gzip.decompress(raw) if gz else raw
    if export and path.suffix == ".csv":
        return _csv(path, data, sc, dry_run)
    if not sc.hit(data):
        return None
    if path.suffix in BINARY_SUFFIXES:
        if not dry_run:
            path.unlink()
        return "deleted", 0
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if not dry_run:
            path.unlink()
        return "deleted", 0
    new, rows = _jsonl(text, sc)
    if not dry_run:
        out = new.encode("utf-8")
        path.write_bytes(gzip.compress(out) if gz else out)
    return "rewritten", rows


def _jsonl(text: str, sc: _Scrubber) -> tuple[str, int]:
    """JSON-lines: rows of the customer lose their personal fields; anything else: the contacts are replaced."""
    lines = text.splitlines(keepends=True)
    try:
        records = [json.loads(line) if line.strip() else None for line in lines]
    except ValueError:  # not JSON lines: HTML, CSV, a pretty-printed JSON document
        return sc.text(text), sum(1 for line in lines if sc.hit(line.encode()))
    if len(lines) == 1 and not isinstance(records[0], dict):
        return sc.text(text), 1
    out, rows = [], 0
    for line, rec in zip(lines, records, strict=True):
        if rec is None or not sc.hit(line.encode()) and not (isinstance(rec, dict) and sc.owns_record(rec)):
            out.append(line)
            continue
        rows += 1
        end = "\n" if line.endswith("\n") else ""
        out.append(json.dumps(sc.record(rec), ensure_ascii=False) + end)
    return "".join(out), rows


def _parquet(path: Path, sc: _Scrubber, *, drop: bool, dry_run: bool) -> tuple[str, int] | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    records = table.to_pylist()
    owned = [i for i, r in enumerate(records) if sc.owns_record(r)]
    if not owned:
        return None
    if not dry_run:
        if drop:
            keep = sorted(set(range(len(records))) - set(owned))
            new = table.take(pa.array(keep, pa.int64())) if keep else table.slice(0, 0)
        else:
            new = pa.Table.from_pylist([sc.record(r) for r in records], schema=table.schema)
        meta = pq.ParquetFile(path).metadata
        compression = (
            meta.row_group(0).column(0).compression.lower()
            if meta.num_row_groups and meta.num_columns
            else "snappy"
        )
        pq.write_table(new, path, compression=compression)
    return "rewritten", len(owned)


def _csv(path: Path, data: bytes, sc: _Scrubber, dry_run: bool) -> tuple[str, int] | None:
    bom = data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return None
    header, body = rows[0], rows[1:]
    keep = [r for r in body if not sc.owns_values(r)]
    dropped = len(body) - len(keep)
    if not dropped:
        return None
    if not dry_run:
        buf = io.StringIO(newline="")
        csv.writer(buf, lineterminator="\n" if "\r\n" not in text else "\r\n").writerows([header, *keep])
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8"))
    return "rewritten", dropped


def _update_manifest(manifest: Path, changed: dict[str, tuple[int, int | None]]) -> None:
    """New row counts, sizes and SHA-256 of the rewritten export files (rows removed once per export)."""
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    for entry in doc.get("exports", []):
        files = entry.get("files", [])
        removed = [changed[f["path"]][0] for f in files if f.get("path") in changed]
        if removed and isinstance(entry.get("rows"), int):
            entry["rows"] -= max(removed)
        for f in files:
            if f.get("path") in changed:
                p = manifest.parent / f["path"]
                f["bytes"] = p.stat().st_size
                f["sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
