"""Core: settings, connections, contracts, business rules, time zone, PII, HTTP: what every layer uses."""
