"""Campaign configuration: YAML files in ``include/campaigns`` validated by pydantic."""

from activation.config.errors import ConfigError, ConfigIssue
from activation.config.loader import ActivationConfig, load_campaigns, load_config
from activation.config.models import ActivationSettings, Campaign, Template

__all__ = [
    "ActivationConfig",
    "ActivationSettings",
    "Campaign",
    "ConfigError",
    "ConfigIssue",
    "Template",
    "load_campaigns",
    "load_config",
]
