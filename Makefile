.PHONY: install demo test lint bench
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
