# Everyday commands. `make demo` and `make test` each do the whole set-up on a fresh machine.
.PHONY: demo test lint bootstrap airflow-ui bench clean

DATE ?= 2026-11-22
CUSTOMERS ?= 10000

bootstrap:
	./scripts/bootstrap.sh

demo:
	./scripts/demo.sh --date $(DATE) --customers $(CUSTOMERS)

test:
	./scripts/test.sh

lint:
	./scripts/lint.sh

airflow-ui:
	./scripts/airflow_ui.sh

bench:
	./scripts/bench.sh

clean:
	rm -rf data .airflow dbt_project/target dbt_project/logs
