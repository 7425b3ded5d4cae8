"""Advertising detection: does a message's content make it an advertisement (정보통신망법 §50)?

The law looks at the content, not at the sender's label: a message about discounts, coupons, events, prices or
with a link to a product page is advertising whatever the campaign's ``kind`` says. The words, patterns and link
rules are one list, ``activation/advertising.yml``; :func:`advertising_findings` applies it to a rendered text (and
the links of its buttons). :mod:`activation.config.content` runs it on every campaign when the configuration is
loaded, so ``crm validate`` refuses an informational campaign with promotional content.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import yaml

RULES_FILE = Path(__file__).with_name("advertising.yml")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
# the advertising marker label: a self-declared advertisement, which no review can turn into information
MARKER_LABEL = "advertising marker"


@dataclass(frozen=True)
class Finding:
    """One reason a text reads as advertising: the rule's label and the text that matched."""

    label: str
    match: str

    def __str__(self) -> str:
        return f"'{self.match}'" if self.label in ("word", "phrase") else f"{self.label} '{self.match}'"


@dataclass(frozen=True)
class AdvertisingRules:
    """The compiled list of :data:`RULES_FILE`."""

    korean: tuple[tuple[str, re.Pattern[str]], ...]
    english: tuple[tuple[str, re.Pattern[str]], ...]
    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    link_segments: frozenset[str]
    link_keys: frozenset[str]


def _normalise(text: str) -> str:
    """NFKC (full-width letters and ``％`` become ASCII), invisible format characters removed."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _korean(term: str) -> re.Pattern[str]:
    """Found anywhere; a space in the listed term matches any spacing there ("무료 배송" = "무료배송")."""
    words = [re.escape(w) for w in _normalise(term).split()]
    return re.compile(r"\s*".join(words), re.IGNORECASE)


def _english(term: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in _normalise(term).split()]
    body = r"\s+".join(words)
    left = r"(?<![A-Za-z])" if term[:1].isalnum() else ""
    return re.compile(rf"{left}{body}(?![A-Za-z])", re.IGNORECASE)


@functools.cache
def load_rules(path: Path = RULES_FILE) -> AdvertisingRules:
    """Reads and compiles the list; a broken list fails loudly, naming the file (it guards a legal rule)."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        rules = AdvertisingRules(
            korean=tuple((str(t), _korean(str(t))) for t in doc.get("korean") or []),
            english=tuple((str(t), _english(str(t))) for t in doc.get("english") or []),
            patterns=tuple(
                (str(label), re.compile(str(rx), re.IGNORECASE | re.MULTILINE))
                for label, rx in (doc.get("patterns") or {}).items()
            ),
            link_segments=frozenset(str(s).lower() for s in doc.get("link_path_segments") or []),
            link_keys=frozenset(str(s).lower() for s in doc.get("link_query_keys") or []),
        )
    except (OSError, yaml.YAMLError, re.error, AttributeError, TypeError) as exc:
        raise RuntimeError(f"{path}: the advertising word list cannot be read: {exc}") from exc
    if not (rules.korean or rules.english or rules.patterns):
        raise RuntimeError(f"{path}: the advertising word list is empty")
    return rules


def _selling_link(url: str, rules: AdvertisingRules) -> bool:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    segments = {re.sub(r"\.[a-z0-9]+$", "", seg.lower()) for seg in parts.path.split("/") if seg}
    keys = {k.lower() for k, _ in parse_qsl(parts.query)}
    return bool(segments & rules.link_segments or keys & rules.link_keys)


def advertising_findings(
    text: str, *, links: Iterable[str] = (), rules: AdvertisingRules | None = None
) -> list[Finding]:
    """Everything in ``text`` (and the button ``links``) that makes it read as advertising, in a stable order."""
    rules = rules or load_rules()
    norm = _normalise(text)
    found: list[Finding] = []
    for label, rx in rules.patterns:
        for m in rx.finditer(norm):
            found.append(Finding(label, m.group(0).strip()))
    for _term, rx in (*rules.korean, *rules.english):
        m = rx.search(norm)
        if m:
            found.append(Finding("word", m.group(0)))
    for url in [*_URL.findall(norm), *links]:
        if url and _selling_link(url, rules):
            found.append(Finding("link to a product or event page", url))
    unique: dict[tuple[str, str], Finding] = {}
    for f in found:
        unique.setdefault((f.label, f.match), f)
    return list(unique.values())
