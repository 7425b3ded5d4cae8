"""Gate entry points (the functions Airflow tasks call); see :mod:`expectations`."""
