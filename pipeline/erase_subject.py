"""Who is erased by ``crm forget``: the customer's ids, contacts (in every form they are stored in) and names.

The member id given on the command line is looked up wherever the pipeline keeps the customer — the raw storefront
tables (customers and the buyer fields of their orders), the customer marts, the ledger's intents and audience sync
state — and every contact found there is added to the ``--phone``/``--email`` given. Guest customers (orders without a
member id) are found by those contacts. A phone is searched and replaced in the forms the sources and the pipeline
write it in: ``01012345678``, ``010-1234-5678``, ``+821012345678``, ``+82-10-1234-5678``, ``+82 10 1234 5678``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from include.core.pii import hash_contact, mask_email, mask_phone

_DIGITS = re.compile(r"\D")


def national_digits(phone: str) -> str:
    """``+82 10-1234-5678`` → ``01012345678`` (digits of the national form)."""
    digits = _DIGITS.sub("", phone)
    return "0" + digits[2:] if digits.startswith("82") and len(digits) >= 11 else digits


def phone_forms(phone: str) -> set[str]:
    """The stored forms of a Korean mobile number (national digits, dashed, E.164 variants)."""
    digits = national_digits(phone)
    if len(digits) < 9:
        return {phone.strip()} if phone.strip() else set()
    head, mid, tail = digits[:3], digits[3:-4], digits[-4:]
    intl = digits[1:]
    return {
        digits,
        f"{head}-{mid}-{tail}",
        f"{head} {mid} {tail}",
        f"{head}.{mid}.{tail}",
        f"+82{intl}",
        f"+82-{head[1:]}-{mid}-{tail}",
        f"+82 {head[1:]} {mid} {tail}",
        f"+82 {head[1:]}-{mid}-{tail}",
        f"82{intl}",
    }


@dataclass
class Subject:
    """The customer to erase."""

    member_id: str
    ids: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)

    def add_phone(self, value: Any) -> None:
        digits = national_digits(value) if isinstance(value, str) else ""
        if len(digits) >= 9:
            self.phones.add(digits)

    def add_email(self, value: Any) -> None:
        if isinstance(value, str) and "@" in value:
            self.emails.add(value.strip())

    def add_name(self, value: Any) -> None:
        if isinstance(value, str) and len(value.strip()) >= 2:
            self.names.add(value.strip())

    @property
    def contact_needles(self) -> set[str]:
        """Every contact in every stored form (searched and replaced everywhere)."""
        out: set[str] = set()
        for p in self.phones:
            out |= phone_forms(p)
        for e in self.emails:
            out |= {e, e.lower()}
        return out

    @property
    def needles(self) -> set[str]:
        """Contacts plus names (names are replaced only in rows that belong to the customer)."""
        return self.contact_needles | self.names

    @property
    def contact_hashes(self) -> set[str]:
        return {h for h in (hash_contact(c) for c in self.phones | self.emails) if h}

    def masked(self) -> dict[str, list[str]]:
        """The contacts for the report, masked."""
        return {
            "ids": sorted(self.ids),
            "phones": sorted({mask_phone(p) or "" for p in self.phones}),
            "emails": sorted({mask_email(e) or "" for e in self.emails}),
            "names": len(self.names),
        }


# (table, id column, phone columns, email columns, name columns) read to find the customer's contacts
_LOOKUPS = [
    ("raw_cafe24.customers", "member_id", ["cellphone"], ["email"], ["name"]),
    ("raw_cafe24.orders", "member_id", ["buyer_cellphone"], ["buyer_email"], ["buyer_name"]),
    ("raw_shopify.customers", "id", ["phone"], ["email"], ["first_name", "last_name"]),
    ("raw_shopify.orders", "customer__id", ["phone"], ["email"], []),
    ("marts.dim_customers", "member_id", ["phone"], ["email"], ["customer_name"]),
    ("marts.dim_customers", "customer_id", ["phone"], ["email"], ["customer_name"]),
]


def discover_in_warehouse(subject: Subject, warehouse: Path) -> None:
    """Adds the ids, contacts and names the warehouse holds for the customer (and guests with the same contacts)."""
    import duckdb

    if not warehouse.exists():
        return
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = {
            f"{a}.{b}"
            for a, b in con.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        for table, id_col, phones, emails, names in _LOOKUPS:
            if table not in tables:
                continue
            cols = phones + emails + names
            rows = con.execute(
                f"select {', '.join(cols)} from {table} where cast({id_col} as varchar) in "
                f"(select unnest(?::varchar[]))",
                [sorted(subject.ids)],
            ).fetchall()
            for row in rows:
                for col, value in zip(cols, row, strict=True):
                    (
                        subject.add_phone
                        if col in phones
                        else subject.add_email
                        if col in emails
                        else subject.add_name
                    )(value)
        if "marts.dim_customers" in tables and (subject.phones or subject.emails):
            digits = sorted(subject.phones)
            mails = sorted(e.lower() for e in subject.emails)
            for cid, mid, name in con.execute(
                "select customer_id, member_id, customer_name from marts.dim_customers "
                "where regexp_replace(coalesce(phone, ''), '\\D', '', 'g') in (select unnest(?::varchar[])) "
                "or lower(email) in (select unnest(?::varchar[]))",
                [digits or [""], mails or [""]],
            ).fetchall():
                if mid in (None, subject.member_id) or mid in subject.ids:
                    subject.ids.add(cid)  # a guest with the same contact (another member's record stays)
                    subject.add_name(name)


def discover_in_ledger(subject: Subject, ledger: Any) -> None:
    """Adds the recipients and synced profiles the ledger still holds for the customer's ids."""
    from sqlalchemy import or_, select

    from activation.ledger import schema as s

    c = s.intents.c
    with ledger.engine.connect() as conn:
        for (recipient,) in conn.execute(
            select(c.recipient).where(
                or_(c.customer_id.in_(subject.ids), c.member_id.in_(subject.ids)), c.recipient.is_not(None)
            )
        ):
            (subject.add_email if "@" in recipient else subject.add_phone)(recipient)
        t = s.sync_state
        for (state,) in conn.execute(select(t.c.state).where(t.c.member_key.in_(subject.ids))):
            profile = (state if isinstance(state, dict) else json.loads(state or "{}")).get("profile") or {}
            subject.add_email(profile.get("email"))
            subject.add_phone(profile.get("mobileNumber"))
            subject.add_name(profile.get("name"))
