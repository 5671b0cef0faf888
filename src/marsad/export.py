"""Articles out: one JSON-ready record shape for `parse`, `export`, and later the API."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import IO

from .models import Article

# The parse contract's keys first, then the rest of the stored fields.
RECORD_KEYS = (
    "id", "url", "title", "published_at", "source", "source_inferred", "tags", "text", "read_also", "origin",
    "date_precision", "language", "author", "canonical_url", "fetched_at", "content_hash", "read_also_ids",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def article_to_record(article: Article, read_also_titles: list[str] | None = None) -> dict:
    """The JSON shape of an article: `text` joined with newlines, dates ISO 8601 UTC."""
    return {
        "id": article.id,
        "url": article.url,
        "title": article.title,
        "published_at": _iso(article.published_at),
        "source": article.source,
        "source_inferred": article.source_inferred,
        "tags": list(article.tags),
        "text": article.text,
        "read_also": list(read_also_titles or []),
        "origin": article.origin,
        "date_precision": article.date_precision,
        "language": article.language,
        "author": article.author,
        "canonical_url": article.canonical_url,
        "fetched_at": _iso(article.fetched_at),
        "content_hash": article.content_hash,
        "read_also_ids": list(article.read_also),
    }


def write_jsonl(records: Iterable[dict], out: IO[str]) -> int:
    """Write records one per line (UTF-8, Arabic unescaped); returns how many."""
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False))
        out.write("\n")
        count += 1
    return count


def write_parquet(records: Iterable[dict], path: str, *, batch_size: int = 5000) -> int:
    """Write records to a Parquet file in row groups, keeping memory flat; returns how many."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [(key, pa.list_(pa.string())) if key in ("tags", "read_also", "read_also_ids")
         else (key, pa.bool_()) if key == "source_inferred"
         else (key, pa.string())
         for key in RECORD_KEYS]
    )
    count = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        batch: list[dict] = []
        for record in records:
            batch.append(record)
            if len(batch) >= batch_size:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count += len(batch)
                batch = []
        if batch or count == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
    return count
