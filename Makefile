# crmkit's developer commands. `make test` is what CI runs.
.PHONY: test quickstart bench fuzz

test:
	./scripts/test.sh

quickstart:
	go run ./examples/quickstart

bench:
	go test -run '^$$' -bench . -benchmem ./...

# Each fuzz target for a short while; raise FUZZTIME for a longer hunt.
FUZZTIME ?= 20s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)
