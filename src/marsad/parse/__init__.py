"""Turning raw inputs (text pages, records) into Articles."""

from .encoding import decode_bytes
from .tags import split_tags
from .textpage import LineRole, account_lines, parse_text_file, parse_text_page, read_text_file

__all__ = [
    "LineRole",
    "account_lines",
    "decode_bytes",
    "parse_text_file",
    "parse_text_page",
    "read_text_file",
    "split_tags",
]
