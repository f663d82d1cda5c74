# Two commands do everything on a fresh Debian 12 machine:
#   make run   install what is missing, build, start `parley serve` on :8080
#   make test  install what is missing, build (plain and ASan+UBSan), run every test
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
CMAKE_GEN  := -G Ninja

.PHONY: run test deps test-deps build build-asan js-tools clean format

run: deps build
	$(BUILD)/src/app/parley serve

test: test-deps build build-asan js-tools
	ctest --test-dir $(BUILD) --output-on-failure -j1
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j1 -LE browser

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
