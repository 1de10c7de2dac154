"""The project's own test harness, shared by `tests/` and `bench/` (not shipped):
processes of lab's servers on 127.0.0.1 (`processes`) and a second Docker engine,
docker-in-docker from Debian's packages (`second_engine`, built from `dind/`), and the
well-known clients as the suite runs them, with what each is known to fail (`clients`),
commands run side by side with their output prefixed (`together`, for make), and a
throwaway HTTP server (`localhttp`).
It imports `lab`, never `tests` or `bench`.
"""
