.PHONY: install demo test lint bench cluster-test
install:
	python3 run.py setup
demo:
	python3 run.py demo
test:
	python3 run.py test
lint:
	python3 run.py lint
bench:
	python3 run.py bench

# The production topology on loopback (2 x klaster serve, klaster worker, PostgreSQL, Redis):
# exactly-once clearing, every client gets every event, worker SIGKILL, Redis outage.
cluster-test:
	.venv/bin/python -m pytest -p no:cacheprovider -v tests/ops/test_cluster.py
