# Two commands do everything on a fresh Debian 12 machine:
#   make run   install what is missing, build, start `parley serve` on :8080
#   make test  install what is missing, build (plain and ASan+UBSan), run every test
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
CMAKE_GEN  := -G Ninja
CTEST_ARGS ?=
# The test recipe relies on bash (pipefail).
SHELL      := /bin/bash

# $(call ctest_summary,NAME,BUILD_DIR,EXIT_CODE): ctest's count line for the
# suite (or why there is none), then the names of its failed tests.
ctest_summary = \
	line=$$(grep -E 'tests passed|No tests were found' $(2)/ctest.log | tail -n1); \
	printf '%-11s %-11s %s (exit %s)\n' '$(1)' '$(2):' "$${line:-ctest did not finish}" "$(3)"; \
	sed -n '/The following tests FAILED:/,/^Errors while running CTest/p' $(2)/ctest.log \
	  | grep -E '^[[:space:]]+[0-9]+ - ' | sed -E 's/^[[:space:]]+/  failed: /' || true

.PHONY: run test test-cluster deps test-deps build build-asan js-tools clean format

run: deps build
	$(BUILD)/src/app/parley serve

# Both suites run even when the first fails (a failure in one says little
# about the other); the summary reports both, and the target fails if either
# did. CTEST_ARGS narrows both runs, e.g. make test CTEST_ARGS='-R store'.
# The plain suite includes the cluster's: the contract suites of its Redis,
# MariaDB and etcd parts, the end-to-end suite against a whole cluster and
# the fault tests (label `cluster`; `make test-cluster` runs only those).
test: test-deps build build-asan js-tools
	@set -o pipefail; \
	ctest --test-dir $(BUILD) --output-on-failure --no-tests=error -j1 $(CTEST_ARGS) 2>&1 \
	  | tee $(BUILD)/ctest.log; \
	plain=$$?; \
	ctest --test-dir $(ASAN_BUILD) --output-on-failure --no-tests=error -j1 -LE browser $(CTEST_ARGS) \
	  2>&1 | tee $(ASAN_BUILD)/ctest.log; \
	asan=$$?; \
	echo; echo '== make test: summary =='; \
	$(call ctest_summary,plain,$(BUILD),$$plain); \
	$(call ctest_summary,asan+ubsan,$(ASAN_BUILD),$$asan); \
	test $$plain -eq 0 && test $$asan -eq 0

# The e2e suite against a local cluster (2 api, 2 logic, 2 task, 2 connect
# over redis-server, mariadbd, etcd) and the fault tests, with recovery times.
test-cluster: test-deps build js-tools
	ctest --test-dir $(BUILD) --output-on-failure --no-tests=error -j1 -L cluster $(CTEST_ARGS)

deps:
	./scripts/install-deps.sh

test-deps:
	./scripts/install-deps.sh --test

build:
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

build-asan:
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DPARLEY_SANITIZE=ON -DPARLEY_BUILD_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j$(JOBS)

# The web client is plain JavaScript served as is (no build step); this
# installs the JavaScript test tools from the lockfile.
js-tools:
	cd tests && npm ci --no-audit --no-fund

format:
	find src bench tests -name '*.cc' -o -name '*.h' | grep -v node_modules | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
