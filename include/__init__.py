"""The CRM pipeline's product code outside activation and the quality gates: core (settings, rules, connections,
contracts, PII, HTTP), extraction, marketer outputs and the task logic the DAGs call; plus supporting files
(campaign YAML, Airflow pools)."""
