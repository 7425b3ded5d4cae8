"""Loads ``include/campaigns``: ``settings.yml``, ``templates.yml`` and one campaign per ``*.yml`` file.

Every file is read and checked; all problems of all files are collected into one :class:`ConfigError` naming the
file, the field and the reason. A bad file is never skipped silently, and nothing here crashes on odd input: any
exception while reading a file becomes an issue for that file. What the messages say is checked too, rendered with
their fallbacks (:mod:`activation.config.content_checks`: advertising by content, SMS characters and length).

``load_config(isolate_campaigns=True)`` is for the runtime (the campaign DAGs): a broken *campaign* file leaves that
campaign out and is listed in :attr:`ActivationConfig.broken`, so one bad file never stops the other campaigns;
problems of ``settings.yml`` or ``templates.yml`` concern every campaign and still raise. ``crm validate`` is strict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from activation.config.content_checks import ReviewRecord, check_content
from activation.config.errors import ConfigError, ConfigIssue
from activation.config.models import ActivationSettings, Campaign, Template, TemplatesFile
from activation.config.variables import BUILTIN_VARIABLES
from activation.text import placeholders

SETTINGS_FILE = "settings.yml"
TEMPLATES_FILE = "templates.yml"
RESERVED_FILES = {SETTINGS_FILE, TEMPLATES_FILE}


@dataclass
class ActivationConfig:
    """Everything read from the campaigns folder."""

    settings: ActivationSettings
    templates: dict[str, Template]
    campaigns: list[Campaign]
    directory: Path
    files: dict[str, str] = field(default_factory=dict)  # campaign id -> file name
    # campaign id -> the recorded decision that its advertising-looking content is informational
    reviews: dict[str, ReviewRecord] = field(default_factory=dict)
    # campaign file -> its problems; only with load_config(isolate_campaigns=True), those campaigns are left out
    broken: dict[str, list[ConfigIssue]] = field(default_factory=dict)

    def campaign(self, campaign_id: str) -> Campaign:
        for c in self.campaigns:
            if c.id == campaign_id:
                return c
        known = ", ".join(sorted(c.id for c in self.campaigns)) or "none"
        raise KeyError(f"unknown campaign '{campaign_id}' (known: {known})")


def _loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(file)"


def _validation_issues(file: str, exc: ValidationError) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors(include_url=False):
        msg = str(err.get("msg", "invalid"))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err.get("type") in ("missing", "extra_forbidden", "union_tag_invalid", "union_tag_not_found"):
            pass
        elif err.get("type") == "string_pattern_mismatch":
            shown = repr(err.get("input"))[:60]
            msg = f"{shown} is not allowed here: {msg.lower()}"
        elif "input" in err and not isinstance(err["input"], dict | list):
            shown = repr(err["input"])
            if shown not in msg:
                msg = f"{msg} (got {shown[:60]}{'…' if len(shown) > 60 else ''})"
        field = _loc(tuple(err.get("loc", ())))
        if msg.startswith("@") and ": " in msg:
            sub, _, msg = msg[1:].partition(": ")
            field = sub if field == "(file)" else f"{field}.{sub}"
        issues.append(ConfigIssue(file, field, msg))
    return issues


def _read_yaml(path: Path, issues: list[ConfigIssue]) -> dict | None:
    name = path.name
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        issues.append(ConfigIssue(name, "(file)", f"not UTF-8 text: {exc.reason} at byte {exc.start}"))
        return None
    except OSError as exc:
        issues.append(ConfigIssue(name, "(file)", f"cannot read: {exc.strerror or exc}"))
        return None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        issues.append(ConfigIssue(name, where, f"YAML syntax error: {problem}"))
        return None
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        issues.append(ConfigIssue(name, "(file)", f"cannot parse YAML: {type(exc).__name__}: {exc}"))
        return None
    if data is None:
        issues.append(ConfigIssue(name, "(file)", "file is empty"))
        return None
    if not isinstance(data, dict):
        issues.append(
            ConfigIssue(name, "(file)", f"top level must be a mapping of fields, got {type(data).__name__}")
        )
        return None
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        issues.append(ConfigIssue(name, repr(bad_keys[0])[:40], "field names must be text"))
        return None
    return data


def _validate(model: type[BaseModel], data: dict, file: str, issues: list[ConfigIssue]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        issues.extend(_validation_issues(file, exc))
    except (RecursionError, ValueError, TypeError, OverflowError, ArithmeticError) as exc:
        issues.append(ConfigIssue(file, "(file)", f"invalid content: {type(exc).__name__}: {exc}"))
    return None


def _load_settings(directory: Path, issues: list[ConfigIssue]) -> ActivationSettings | None:
    path = directory / SETTINGS_FILE
    if not path.exists():
        issues.append(
            ConfigIssue(
                SETTINGS_FILE, "(file)", f"missing: the global settings file is required in {directory}"
            )
        )
        return None
    data = _read_yaml(path, issues)
    return None if data is None else _validate(ActivationSettings, data, SETTINGS_FILE, issues)


def _load_templates(directory: Path, issues: list[ConfigIssue]) -> dict[str, Template] | None:
    path = directory / TEMPLATES_FILE
    if not path.exists():
        return {}
    data = _read_yaml(path, issues)
    if data is None:
        return None
    parsed = _validate(TemplatesFile, data, TEMPLATES_FILE, issues)
    if parsed is None:
        return None
    out: dict[str, Template] = {}
    for i, tpl in enumerate(parsed.templates):
        if tpl.id in out:
            issues.append(
                ConfigIssue(TEMPLATES_FILE, f"templates[{i}].id", f"duplicate template id '{tpl.id}'")
            )
        out[tpl.id] = tpl
    return out


def _cross_check(
    campaign: Campaign,
    file: str,
    settings: ActivationSettings | None,
    templates: dict[str, Template] | None,
    issues: list[ConfigIssue],
) -> ReviewRecord | None:
    stem = Path(file).stem
    if campaign.id != stem:
        issues.append(
            ConfigIssue(
                file, "id", f"id '{campaign.id}' must equal the file name '{stem}' (one campaign per file)"
            )
        )
    defined = set(campaign.variables) | BUILTIN_VARIABLES
    if settings is not None:
        defined |= set(settings.variables)
    used: dict[str, str] = {}
    for idx, variant in enumerate(campaign.resolved_variants()):
        where = f"variants[{idx}]" if campaign.variants else "message"
        if campaign.channel == "alimtalk" and variant.template_id and templates is not None:
            tpl = templates.get(variant.template_id)
            if tpl is None:
                issues.append(
                    ConfigIssue(
                        file,
                        f"{where}.template_id",
                        f"template '{variant.template_id}' is not in {TEMPLATES_FILE}",
                    )
                )
                continue
            if settings is not None and tpl.pf_id != settings.kakao_pf_id:
                issues.append(
                    ConfigIssue(
                        file,
                        f"{where}.template_id",
                        f"template '{tpl.id}' belongs to pfId '{tpl.pf_id}', not the shop's '{settings.kakao_pf_id}'",
                    )
                )
            for name in placeholders(tpl.content):
                used.setdefault(name, f"{where}.template_id")
        for key in ("text", "subject"):
            part = getattr(variant, key)
            for name in placeholders(part or ""):
                used.setdefault(name, f"{where}.{key}")
    for name, where in sorted(used.items()):
        if settings is not None and name not in defined:
            issues.append(
                ConfigIssue(
                    file,
                    where,
                    f"variable '#{{{name}}}' is not defined: add it under variables (with a fallback) here or in {SETTINGS_FILE}",
                )
            )
    if settings is None or templates is None:
        return None
    return check_content(campaign, file, settings, templates, issues)


def load_config(directory: str | Path | None = None, *, isolate_campaigns: bool = False) -> ActivationConfig:
    """Reads and validates the whole campaigns folder; raises :class:`ConfigError` listing every problem.

    With ``isolate_campaigns`` a campaign file with problems is left out and listed in ``broken`` instead (the
    folder's global files must still be valid).
    """
    if directory is None:
        from include.core.settings import get_settings

        directory = get_settings().campaigns_dir
    directory = Path(directory)
    issues: list[ConfigIssue] = []
    if not directory.is_dir():
        raise ConfigError([ConfigIssue(str(directory), "(folder)", "campaigns folder does not exist")])
    settings = _load_settings(directory, issues)
    templates = _load_templates(directory, issues)
    campaigns: list[Campaign] = []
    files: dict[str, str] = {}
    reviews: dict[str, ReviewRecord] = {}
    broken: dict[str, list[ConfigIssue]] = {}
    paths = sorted(
        p for p in directory.iterdir() if p.suffix in (".yml", ".yaml") and p.name not in RESERVED_FILES
    )
    for path in paths:
        mine: list[ConfigIssue] = []
        campaign, review = _load_campaign(path, files, settings, templates, mine)
        if mine:
            broken[path.name] = mine
        elif campaign is not None:
            files[campaign.id] = path.name
            campaigns.append(campaign)
            if review is not None:
                reviews[campaign.id] = review
    campaign_issues = [i for found in broken.values() for i in found]
    if issues or settings is None or templates is None or (campaign_issues and not isolate_campaigns):
        raise ConfigError(issues + campaign_issues)
    return ActivationConfig(settings, templates, campaigns, directory, files, reviews, broken)


def _load_campaign(
    path: Path,
    files: dict[str, str],
    settings: ActivationSettings | None,
    templates: dict[str, Template] | None,
    issues: list[ConfigIssue],
) -> tuple[Campaign | None, ReviewRecord | None]:
    """One campaign file: parsed, validated and cross-checked; its problems are appended to ``issues``."""
    data = _read_yaml(path, issues)
    if data is None:
        return None, None
    campaign = _validate(Campaign, data, path.name, issues)
    if campaign is None:
        return None, None
    if campaign.id in files:
        issues.append(
            ConfigIssue(
                path.name, "id", f"duplicate campaign id '{campaign.id}' (also in {files[campaign.id]})"
            )
        )
        return None, None
    try:
        review = _cross_check(campaign, path.name, settings, templates, issues)
    except (ValueError, TypeError, KeyError, OverflowError) as exc:  # odd input never crashes the loader
        issues.append(
            ConfigIssue(path.name, "(file)", f"cannot check the content: {type(exc).__name__}: {exc}")
        )
        return None, None
    return campaign, review


def load_campaigns(path: str | Path | None = None) -> list[Campaign]:
    """The validated campaigns of a campaigns folder (default: ``settings.campaigns_dir``)."""
    return load_config(path).campaigns
