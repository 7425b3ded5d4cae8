"""Task logic of the DAGs: each DAG task calls one function here, which calls the domain packages."""
