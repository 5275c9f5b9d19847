# cse: client-side encryption compatible with the AWS Encryption SDK.
#   make demo    a local S3 server, keys, upload and download with cse, the official Python SDK
#                reading what cse wrote, and the browser page served against the same server
#   make test    everything CI runs: lint, Rust tests, wasm build, vectors, live interop, S3
#                tests against a signature-checking server, browser tests, fuzz smoke
#   make bench   throughput and memory against the official Python SDK and OpenSSL
#   make bench-s3  cse cp vs aws s3 cp and the users' Python scripts on a local S3 server
#   make static  a static x86_64 musl build of cse for login nodes
#   make web     the browser page in web/www (serve the folder with any static server)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SHARED ?= ../shared
OFFICIAL := $(SHARED)/official-vectors
WORK := .work
BIN := target/release
FUZZ_SECONDS ?= 30
S3S_FS_VERSION := 0.14.1
WASM_BINDGEN_VERSION := 0.2.130
WASM := target/wasm32-unknown-unknown/wasm
MUSL := x86_64-unknown-linux-musl
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all build test lint unit wasm vectors official interop fuzz-smoke demo bench clean \
	s3-server wasm-bindgen web web-deps s3-test web-test static bench-s3

all: build

$(VENV)/.stamp: tests/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r tests/python/requirements.txt
	touch $@

build:
	$(CARGO) build --release -p cse-native
	$(CARGO) build --release -p cse-interop --bins
	$(CARGO) build --release -p cse-core --example cse-file

# The local S3-compatible server of the tests and the demo: it verifies SigV4 signatures and
# payload hashes.
s3-server:
	command -v s3s-fs >/dev/null || $(CARGO) install s3s-fs --version $(S3S_FS_VERSION) --features binary

wasm-bindgen:
	wasm-bindgen --version 2>/dev/null | grep -qx 'wasm-bindgen $(WASM_BINDGEN_VERSION)' \
	  || $(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION)

web/test/node_modules/.stamp: web/test/package.json web/test/package-lock.json
	npm ci --prefix web/test --no-audit --no-fund --loglevel=error
	touch $@

web-deps: web/test/node_modules/.stamp

# The page: wasm from cse-web, its JS glue, optimized with binaryen's wasm-opt from npm.
web: wasm-bindgen web-deps
	rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	$(CARGO) build -p cse-web --target wasm32-unknown-unknown --profile wasm
	wasm-bindgen --target web --out-dir web/www/pkg $(WASM)/cse_web.wasm
	web/test/node_modules/.bin/wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int \
	  --enable-sign-ext --enable-mutable-globals --enable-reference-types \
	  web/www/pkg/cse_web_bg.wasm -o web/www/pkg/cse_web_bg.wasm
	@echo "web: the page is in web/www (e.g. python3 -m http.server -d web/www)"

# A static binary for login nodes (no glibc or OpenSSL needed at run time).
static:
	rustup target list --installed | grep -qx $(MUSL) || rustup target add $(MUSL)
	command -v musl-gcc >/dev/null || { apt-get update -q && apt-get install -y -q musl-tools; }
	$(CARGO) build --release -p cse-native --no-default-features --target $(MUSL)
	file target/$(MUSL)/release/cse | grep -q 'static'
	target/$(MUSL)/release/cse --version
	@echo "static: target/$(MUSL)/release/cse"

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace --release

wasm:
	rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	$(CARGO) build -p cse-core --target wasm32-unknown-unknown --release

# Our committed vectors, written by the official Python SDK: the suite x keyring x size matrix
# with tampered cases, the official tampering types (truncate, mutate, half-sign, provider
# info), and malformed input (each naming the error class it must produce).
vectors: build
	$(BIN)/esdk-vectors decrypt vectors/esdk-python
	$(BIN)/esdk-vectors decrypt vectors/official-tampered
	$(BIN)/esdk-vectors decrypt vectors/bad-input

# The official sets in ../shared, when present (not part of the repository).
official: build
	@if [ -d "$(OFFICIAL)" ]; then \
	  for set in v4-Net-4.0.1 valid-Net-4.0.0; do \
	    echo "== official $$set"; $(BIN)/esdk-vectors decrypt $(OFFICIAL)/$$set; done; \
	  echo "== official invalid-Net-4.0.0 (every case must be rejected)"; \
	  $(BIN)/esdk-vectors decrypt --expect-failure $(OFFICIAL)/invalid-Net-4.0.0; \
	  echo "== official python-1.3.0-legacy"; $(BIN)/esdk-vectors decrypt $(OFFICIAL)/python-1.3.0-legacy; \
	  echo "== official commitment known answers (41 decrypt, 5 must fail)"; \
	  $(BIN)/esdk-vectors decrypt $(OFFICIAL)/python-commitment-kat/commitment-test-vectors.json; \
	else echo "no $(OFFICIAL): skipping the official vector sets"; fi

tests/js/node_modules/.stamp: tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $@

# Live interop, every direction: cse, the official Python SDK and the official JavaScript
# SDK each encrypt every suite x keyring x context x size; each of them decrypts every set.
interop: build $(VENV)/.stamp tests/js/node_modules/.stamp
	bash tests/matrix.sh $(WORK)/matrix
	@echo "== cse processes a decrypt-generate manifest (truncate, mutate, half-sign, provider info)"
	rm -rf $(WORK)/generated
	$(BIN)/esdk-vectors encrypt tests/manifests/decrypt-generate.json --out $(WORK)/generated
	@echo "== ... and both cse and the official Python SDK must agree on every case"
	$(BIN)/esdk-vectors decrypt $(WORK)/generated
	$(PY) tests/python/interop.py decrypt $(WORK)/generated/manifest.json

fuzz-smoke:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p $(WORK)/fuzz/header $(WORK)/fuzz/decrypt
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run header ../$(WORK)/fuzz/header -- -max_total_time=$(FUZZ_SECONDS)
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run decrypt ../$(WORK)/fuzz/decrypt ../vectors/esdk-python/ciphertexts -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536

# cse against a real S3 server: the users' scripts both ways, multipart, ranged downloads,
# stdin/stdout, faults through a fault-injecting proxy, credentials and config files.
s3-test: build s3-server $(VENV)/.stamp
	bash tests/s3/run.sh

# The page in headless Chromium against s3s-fs behind a CORS proxy (nginx).
web-test: build web s3-server $(VENV)/.stamp
	bash web/test/run.sh

test: lint unit wasm vectors official interop s3-test web-test static fuzz-smoke
	@echo "make test: all suites passed"

demo: build s3-server web $(VENV)/.stamp
	bash scripts/demo.sh

bench: $(VENV)/.stamp
	bash bench/run.sh

bench-s3: build s3-server $(VENV)/.stamp
	bash bench/s3.sh

clean:
	rm -rf $(WORK) target fuzz/target
