"""Reading inputs (text pages, JSONL dumps) into Articles, one item at a time."""

from .files import InputItem, discover_inputs, read_input
from .outlets import known_outlets, resolve_outlet
from .records import article_from_record

__all__ = ["InputItem", "article_from_record", "discover_inputs", "known_outlets", "read_input", "resolve_outlet"]
