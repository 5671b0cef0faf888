"""robots.txt as RFC 9309 reads it: groups by user-agent, longest match wins, `*` and `$`.

The standard library's `urllib.robotparser` matches plain prefixes only, so a
news site's `Disallow: /*?print=` would be ignored by it; this module is small
enough to get right here. `Crawl-delay` and `Sitemap` lines are read too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit

MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309 asks crawlers to parse at least 500 KiB


@dataclass
class _Group:
    agents: list[str] = field(default_factory=list)
    rules: list[tuple[bool, str]] = field(default_factory=list)  # (allow, pattern)
    crawl_delay: float | None = None


@lru_cache(maxsize=4096)
def _pattern(rule: str) -> re.Pattern[str]:
    anchored = rule.endswith("$")
    body = rule[:-1] if anchored else rule
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(regex + ("$" if anchored else ""))


def _normalise_path(path: str) -> str:
    # Compare in one percent-encoding: "/أخبار" and "/%D8%A3..." are the same path.
    return quote(unquote(path), safe="/?=&;:@!$'()*+,-._~%")


@dataclass
class Robots:
    """The rules a site's robots.txt gives one crawler."""

    groups: list[_Group] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    allow_all: bool = False
    disallow_all: bool = False
    note: str = ""  # why allow_all / disallow_all was decided without rules

    @classmethod
    def allowing(cls, note: str = "") -> "Robots":
        """Rules that allow everything (no robots.txt, or a 4xx one, per RFC 9309)."""
        return cls(allow_all=True, note=note)

    @classmethod
    def forbidding(cls, note: str = "") -> "Robots":
        """Rules that forbid everything (robots.txt unreachable or 5xx, per RFC 9309)."""
        return cls(disallow_all=True, note=note)

    def _group_for(self, agent: str) -> _Group | None:
        token = agent.split("/", 1)[0].strip().lower()
        best: _Group | None = None
        for group in self.groups:
            if any(a != "*" and a == token for a in group.agents):
                return group
            if "*" in group.agents and best is None:
                best = group
        return best

    def allowed(self, url: str, agent: str) -> bool:
        """Whether *agent* may fetch *url*."""
        if self.allow_all:
            return True
        if self.disallow_all:
            return False
        parts = urlsplit(url)
        path = _normalise_path((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        if path == "/robots.txt":
            return True
        group = self._group_for(agent)
        if group is None:
            return True
        verdict, length = True, -1
        for allow, rule in group.rules:
            if not rule:
                continue  # an empty Disallow allows everything
            if _pattern(_normalise_path(rule)).match(path):
                size = len(rule)
                if size > length or (size == length and allow):
                    verdict, length = allow, size
        return verdict

    def crawl_delay(self, agent: str) -> float | None:
        """The Crawl-delay the site asks of *agent*, in seconds (None when it sets none)."""
        group = self._group_for(agent)
        return group.crawl_delay if group else None


def parse_robots(text: str) -> Robots:
    """Parse robots.txt text (never raises: unreadable lines are skipped)."""
    robots = Robots()
    current: _Group | None = None
    last_was_agent = False
    for raw in text[:MAX_ROBOTS_BYTES].splitlines():
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (part.strip() for part in line.split(":", 1))
        key = key.lower()
        if key in ("user-agent", "useragent"):
            if current is None or not last_was_agent:
                current = _Group()
                robots.groups.append(current)
            current.agents.append(value.lower())
            last_was_agent = True
            continue
        last_was_agent = False
        if key == "sitemap":
            if value:
                robots.sitemaps.append(value)
        elif current is None:
            continue
        elif key in ("allow", "disallow"):
            current.rules.append((key == "allow", value))
        elif key == "crawl-delay":
            try:
                delay = float(value)
            except ValueError:
                continue
            if delay >= 0:
                current.crawl_delay = delay
    return robots
