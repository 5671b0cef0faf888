"""Turning raw inputs (text pages, records) into Articles."""

from .textpage import parse_text_file, parse_text_page, read_text_file

__all__ = ["parse_text_file", "parse_text_page", "read_text_file"]
