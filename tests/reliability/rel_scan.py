"""Leak scan: secrets of the emulators and contacts of the shop's customers must never appear in logs or outputs.

What counts as a leak:

- any credential the emulators handed out: API keys and secrets of every API, the Cafe24 refresh token of the
  connection, and every access/refresh token the Cafe24 emulator issued during the run;
- any phone number of a customer or buyer of the shop, written ``01012345678``, ``010-1234-5678``,
  ``010 1234 5678``, ``010.1234.5678`` or ``+821012345678`` (masked forms such as ``010-****-5678`` are fine);
- any e-mail address of a customer or buyer of the shop (case-insensitive; ``k***@example.com`` is fine).

Phones and e-mails are compared against the shop's actual contacts, so an order number or a hash that happens to
look like a phone is not a finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PHONE = re.compile(r"(?<![\d*])(?:\+82[- ]?|82[- ]?)?(0?1[016789])[-. ]?(\d{3,4})[-. ]?(\d{4})(?![\d*])")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class Finding:
    """One leak: where, what kind, and the line (the secret itself is never repeated in the report)."""

    source: str
    line_no: int
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line_no}: {self.kind}: {self.excerpt}"


def shop_contacts(shop_dir: Path) -> tuple[set[str], set[str]]:
    """Digits of every phone and lower-case e-mail of the shop's customers and order buyers."""
    import duckdb

    phones: set[str] = set()
    emails: set[str] = set()
    con = duckdb.connect()
    try:
        for table, phone_col, email_col in (
            ("customers", "cellphone", "email"),
            ("orders", "buyer_cellphone", "buyer_email"),
        ):
            path = shop_dir / f"{table}.parquet"
            cols = {r[0] for r in con.execute(f"describe select * from read_parquet('{path}')").fetchall()}
            for col, target in ((phone_col, phones), (email_col, emails)):
                if col not in cols:
                    continue
                for (value,) in con.execute(
                    f"select distinct {col} from read_parquet('{path}') where {col} is not null"
                ).fetchall():
                    text = str(value).strip()
                    if target is phones:
                        digits = re.sub(r"\D", "", text)
                        if len(digits) >= 10:
                            target.add(digits)
                    elif "@" in text:
                        target.add(text.lower())
    finally:
        con.close()
    return phones, emails


def emulator_secrets(emu: Any) -> dict[str, str]:
    """Every credential the emulators know: keys/secrets per API, connection extras, issued Cafe24 tokens."""
    import json

    found: dict[str, str] = {}
    for api, creds in emu.credentials.items():
        for name, value in creds.items():
            found[f"{api}.{name}"] = value
    for key, raw in emu.connection_env().items():
        conn = json.loads(raw)
        for name, value in (conn.get("extra") or {}).items():
            if "token" in name or "secret" in name or "key" in name:
                found[f"{key}.extra.{name}"] = str(value)
    from testbed.emulators import cafe24

    svc = cafe24._SERVICES.get(id(emu.ctx))
    if svc is not None:
        for i, token in enumerate(list(svc._access)):
            found[f"cafe24.access_token[{i}]"] = token
        for i, token in enumerate(list(svc._refresh)):
            found[f"cafe24.refresh_token[{i}]"] = token
    return {k: v for k, v in found.items() if v and len(v) >= 8}


class Scanner:
    """Scans text for the secrets and contacts given."""

    def __init__(self, secrets: dict[str, str], phones: set[str], emails: set[str]) -> None:
        self.secrets = secrets
        self.phones = phones
        self.emails = emails
        self.lines = 0
        self.sources: list[str] = []

    def _phone_digits(self, match: re.Match) -> str:
        lead = match.group(1)
        return (lead if lead.startswith("0") else "0" + lead) + match.group(2) + match.group(3)

    def scan_text(self, source: str, text: str) -> list[Finding]:
        findings: list[Finding] = []
        self.sources.append(source)
        for no, line in enumerate(text.splitlines(), start=1):
            self.lines += 1
            for name, secret in self.secrets.items():
                if secret in line:
                    findings.append(
                        Finding(source, no, f"secret {name}", line[:160].replace(secret, "<SECRET>"))
                    )
            for m in _PHONE.finditer(line):
                if self._phone_digits(m) in self.phones:
                    findings.append(
                        Finding(source, no, "customer phone", line[max(0, m.start() - 60) : m.end() + 60])
                    )
            if "@" in line:
                for m in _EMAIL.finditer(line):
                    if m.group(0).lower() in self.emails:
                        findings.append(
                            Finding(
                                source, no, "customer e-mail", line[max(0, m.start() - 60) : m.end() + 60]
                            )
                        )
        return findings

    def scan_file(self, path: Path, label: str | None = None) -> list[Finding]:
        return self.scan_text(label or str(path), path.read_text(encoding="utf-8", errors="replace"))
