# The README's commands. `make test` finds or starts a Postgres for the tests
# (see .ci/with-postgres) and runs every test with the race detector.
.PHONY: demo test bench build vet

demo:
	go run ./cmd/groundwork demo

test:
	./.ci/with-postgres go test -race -count=1 ./...

vet:
	gofmt -l . | (! grep .) && go vet ./...

build:
	bash deploy/build.sh bin/groundwork

bench:
	./.ci/with-postgres go test -run '^$$' -bench . -benchtime 1x ./...
