#!/usr/bin/env bash
# Runs all checks of every Go module in the repository: gofmt, go vet and
# go test -race. Each module is tested on its own go.mod (GOWORK=off): its
# requirements as written, with the replace back to the root checkout that
# serves development (README "Releasing").
#
# Browser tests need Debian's chromium and the multi-node tests a
# redis-server (and its redis-cli, for the Redis Cluster tests); without
# them those tests skip, unless CI=true, where they fail. .ci/run
# installs both.
#
# The browser client library (client/) has its types checked by
# tsc --checkJs, from client/package-lock.json: it needs node and npm, and
# is skipped without them, unless CI=true, where it fails. .ci/run installs
# them.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOWORK=off

files=$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*')
unformatted=$(gofmt -l $files)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"
	echo "$unformatted"
	exit 1
fi

status=0
echo "== client/ (tsc --checkJs)"
if command -v npm >/dev/null 2>&1; then
	if ! (cd client && { [ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund --loglevel=error; } && ./node_modules/.bin/tsc -p .); then
		status=1
	fi
elif [ "${CI:-}" = true ]; then
	echo "no npm: the client library's types cannot be checked (apt-get install -y nodejs npm)"
	status=1
else
	echo "no npm: skipping the client library's type check"
fi

for mod in $(find . -name go.mod -not -path './.git/*' | sort); do
	dir=$(dirname "$mod")
	echo "== module $dir"
	if ! (cd "$dir" && go vet ./... && go test -race -count=1 -timeout 20m ./...); then
		status=1
	fi
done
# Every module builds on the systems without epoll too (the poller is
# Linux's; elsewhere the Hub reads with a goroutine per connection), and
# vets there, tests included, but for redisstore's on Windows: they pause
# redis-server with Unix signals. The tests run here only.
for goos in darwin windows; do
	echo "== GOOS=$goos (build and vet, no test run)"
	for mod in $(find . -name go.mod -not -path './.git/*' | sort); do
		dir=$(dirname "$mod")
		vet=vet
		if [ "$goos" = windows ] && [ "$dir" = ./redisstore ]; then
			vet=build
		fi
		if ! (cd "$dir" && GOOS=$goos go build ./... && GOOS=$goos go $vet ./...); then
			status=1
		fi
	done
done
# The root package again with the blocking read loop instead of the
# poller: both must behave the same.
echo "== module . (EPCHAT_NETPOLL=off)"
if ! EPCHAT_NETPOLL=off go test -race -count=1 .; then
	status=1
fi
# And with the lock-order checker built in (lockcheck.go): every lock of
# the order written in locks.go is checked as it is taken.
echo "== module . (-tags epchat_lockcheck)"
if ! go test -race -count=1 -tags epchat_lockcheck .; then
	status=1
fi
# The Hub's paths that only a Redis deployment takes (batched sends, the
# Broker's events) under the checker too.
echo "== module ./redisstore (-tags epchat_lockcheck)"
if ! (cd redisstore && go test -race -count=1 -tags epchat_lockcheck -run 'Batched|Cluster|Pause|Hubs' .); then
	status=1
fi
exit $status
