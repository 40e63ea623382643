# carprice: the two commands a newcomer needs are `make demo` and `make test`.
# Both install what they need first (scripts/bootstrap is idempotent).
.PHONY: all bootstrap build build-asan test test-unit test-integration demo format format-check stack-up stack-down clean

BUILD ?= build
JOBS ?= 2
# Warnings are errors in CI and in `make test`.
CMAKE_FLAGS ?= -DCARPRICE_WERROR=ON

all: build

bootstrap:
	scripts/bootstrap

build:
	scripts/bootstrap apt
	scripts/bootstrap jars
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

build-asan:
	cmake -S . -B $(BUILD)-asan -DCMAKE_BUILD_TYPE=Debug -DCARPRICE_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD)-asan -j$(JOBS)

# Everything: bootstrap, build, format check, unit tests (also under ASan+UBSan),
# the local stack, integration tests, stack down. Exit status = any failure.
test:
	scripts/test

test-unit: build
	ctest --test-dir $(BUILD) -L unit --output-on-failure

# Needs the stack: scripts/stack up
test-integration: build
	ctest --test-dir $(BUILD) -L integration --output-on-failure

# The main job: the whole system locally, on real services it starts itself.
demo:
	scripts/demo

format:
	git ls-files -z '*.c' '*.h' | xargs -0 clang-format -i

format-check:
	git ls-files -z '*.c' '*.h' | xargs -0 clang-format --dry-run --Werror

stack-up:
	scripts/stack up

stack-down:
	scripts/stack down

clean:
	rm -rf $(BUILD) $(BUILD)-asan
