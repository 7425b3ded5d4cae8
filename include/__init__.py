"""Shared code of the CRM pipeline: settings, the synthetic shop, API emulators, extraction and task logic."""
