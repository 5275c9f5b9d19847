# cse: client-side encryption compatible with the AWS Encryption SDK.
#   make check   format, lint, unit and property tests, every committed vector set (cargo test);
#                no servers, no browser
#   make demo    a local S3 server, keys, upload and download with cse, the official Python SDK
#                reading what cse wrote, and the browser page served against the same server
#   make test    everything CI runs: check, then the wasm build, live interop, S3 tests against a
#                signature-checking server, browser tests, the static build, fuzz smoke
#   make bench   throughput and memory against the official Python SDK and OpenSSL
#   make bench-s3  cse cp vs aws s3 cp and the users' Python scripts on a local S3 server
#   make bench-web the page vs the official browser SDK; a 2 GiB round trip through the page
#   make static  a static x86_64 musl build of cse for login nodes (profile dist)
#   make web     the browser page in web/www (serve the folder with any static server)
# check, demo, test and static first run scripts/system-deps.sh, which installs the system
# packages and Rust targets they need (as root or with passwordless sudo) or names them.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
OFFICIAL := vectors/official
WORK := .work
BIN := target/release
FUZZ_SECONDS ?= 30
S3S_FS_VERSION := 0.14.1
WASM_BINDGEN_VERSION := 0.2.130
WASM := target/wasm32-unknown-unknown/wasm
MUSL := x86_64-unknown-linux-musl
# The static binary's profile: dist (fat LTO, stripped) for `make static`; make test checks
# the same static build with the static-check profile (unoptimized: an optimized musl build
# of the workspace costs make test minutes and changes nothing that the checks look at).
STATIC_PROFILE ?= dist
DIST := target/$(MUSL)/$(STATIC_PROFILE)/cse
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: all build check test lint unit wasm vectors official interop fuzz-smoke demo bench clean \
	s3-server wasm-bindgen web web-deps s3-test web-test static bench-s3 bench-web static-build fuzz-build

all: build

$(VENV)/.stamp: tests/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r tests/python/requirements.txt
	touch $@

# One build of the whole workspace, test harnesses included: `cargo test --workspace --release`
# then reuses it (building packages one by one would resolve other features and rebuild).
build:
	$(CARGO) build --release --workspace --all-targets

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
	$(CARGO) build -p cse-web --target wasm32-unknown-unknown --profile wasm
	wasm-bindgen --target web --out-dir web/www/pkg $(WASM)/cse_web.wasm
	web/test/node_modules/.bin/wasm-opt -O3 --enable-bulk-memory --enable-nontrapping-float-to-int \
	  --enable-sign-ext --enable-mutable-globals --enable-reference-types \
	  web/www/pkg/cse_web_bg.wasm -o web/www/pkg/cse_web_bg.wasm
	@echo "web: the page is in web/www (e.g. python3 -m http.server -d web/www)"

# A static binary for login nodes (no glibc or OpenSSL needed at run time), built with the
# dist profile (LTO, stripped) unless STATIC_PROFILE says otherwise.
static-build:
	@bash scripts/system-deps.sh static
	$(CARGO) build --profile $(STATIC_PROFILE) -p cse-native --no-default-features --target $(MUSL)

# The static binary links nothing at run time and round-trips a message with its own keys
# (pure-Rust provider: what login nodes run).
static: static-build
	file $(DIST) | grep -q 'static'
	$(DIST) --version
	rm -rf $(WORK)/static && mkdir -p $(WORK)/static && cd $(WORK)/static \
	  && $(CURDIR)/$(DIST) keygen --no-passphrase -q \
	  && head -c 300000 /dev/urandom >plain \
	  && $(CURDIR)/$(DIST) encrypt -q --public-key public_key.pem plain -o plain.cse \
	  && $(CURDIR)/$(DIST) decrypt -q --private-key private_key.pem plain.cse -o back \
	  && cmp plain back && rm -rf $(CURDIR)/$(WORK)/static
	@echo "static: $(DIST) ($$(du -k --apparent-size $(DIST) | cut -f1) KiB), a message round-tripped"

# Clippy under the release profile: it reuses the build scripts (AWS-LC, jemalloc) and proc
# macros of the release build instead of building them again for the dev profile.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

# Unit and property tests, and every committed vector set, one test per case
# (tests/tests/vectors.rs: vectors/esdk-python, official-tampered, bad-input, vectors/official).
unit:
	$(CARGO) test --workspace --release
	@echo "== cse-core with the pure-Rust provider alone (no aws-lc feature, as on wasm32)"
	$(CARGO) test -p cse-core --release --no-default-features --features std

# cse-core with its default features on wasm32 (type-checked: the page's build in make web
# compiles and links the same code for wasm32, with the std feature).
wasm:
	$(CARGO) check --release -p cse-core --target wasm32-unknown-unknown

# The committed vector sets through the esdk-vectors command (`make unit` runs each case too).
# Ours, written by the official Python SDK: the suite x keyring x size matrix with tampered
# cases, the official tampering types (truncate, mutate, half-sign, provider info), and
# malformed input (each naming the error class it must produce).
vectors: build
	$(BIN)/esdk-vectors decrypt vectors/esdk-python
	$(BIN)/esdk-vectors decrypt vectors/official-tampered
	$(BIN)/esdk-vectors decrypt vectors/bad-input

# The official sets in vectors/official (origin, version and licence in its README).
official: build
	for set in v4-Net-4.0.1 valid-Net-4.0.0 python-1.3.0-legacy; do \
	  echo "== official $$set"; $(BIN)/esdk-vectors decrypt $(OFFICIAL)/$$set; done
	@echo "== official invalid-Net-4.0.0 (every case must be rejected)"
	$(BIN)/esdk-vectors decrypt --expect-failure $(OFFICIAL)/invalid-Net-4.0.0
	@echo "== official commitment known answers (41 decrypt, 5 must fail)"
	$(BIN)/esdk-vectors decrypt $(OFFICIAL)/python-commitment-kat/commitment-test-vectors.json

tests/js/node_modules/.stamp: tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	touch $@

# Live interop, every direction: cse, the official Python SDK and the official JavaScript
# SDK each encrypt every suite x keyring x context x size; each of them decrypts every set.
interop: build $(VENV)/.stamp tests/js/node_modules/.stamp
	@echo "== the esdk-vectors command on two committed sets (make unit runs every case)"
	$(BIN)/esdk-vectors decrypt vectors/bad-input
	$(BIN)/esdk-vectors decrypt --expect-failure $(OFFICIAL)/invalid-Net-4.0.0
	bash tests/matrix.sh $(WORK)/matrix
	@echo "== cse processes a decrypt-generate manifest (truncate, mutate, half-sign, provider info)"
	rm -rf $(WORK)/generated
	$(BIN)/esdk-vectors encrypt tests/manifests/decrypt-generate.json --out $(WORK)/generated
	@echo "== ... and both cse and the official Python SDK must agree on every case"
	$(BIN)/esdk-vectors decrypt $(WORK)/generated
	$(PY) tests/python/interop.py decrypt $(WORK)/generated/manifest.json

fuzz-build:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz build

# Both fuzz targets side by side (one core each), $(FUZZ_SECONDS) s each; logs in .work/fuzz/.
fuzz-smoke: fuzz-build
	mkdir -p $(WORK)/fuzz/header $(WORK)/fuzz/decrypt
	cd fuzz && rc=0; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run header ../$(WORK)/fuzz/header -- -max_total_time=$(FUZZ_SECONDS) \
	    >../$(WORK)/fuzz/header.log 2>&1 & pid=$$!; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run decrypt ../$(WORK)/fuzz/decrypt ../vectors/esdk-python/ciphertexts seeds/decrypt \
	    -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536 >../$(WORK)/fuzz/decrypt.log 2>&1 || rc=1; \
	  wait $$pid || rc=1; \
	  for t in header decrypt; do echo "== fuzz $$t"; tail -n 3 ../$(WORK)/fuzz/$$t.log; done; \
	  [ $$rc = 0 ] || { cat ../$(WORK)/fuzz/header.log ../$(WORK)/fuzz/decrypt.log | tail -n 80; exit 1; }

# cse against a real S3 server: the users' scripts both ways, multipart, ranged downloads,
# stdin/stdout, faults through a fault-injecting proxy, credentials and config files.
s3-test: build s3-server $(VENV)/.stamp
	bash tests/s3/run.sh

# The page in headless Chromium against s3s-fs behind a CORS proxy (nginx).
web-test: build web s3-server $(VENV)/.stamp
	bash web/test/run.sh

check:
	@bash scripts/system-deps.sh check
	@bash scripts/phases.sh lint unit

# The static binary and the fuzz targets build in the background at low priority from the
# start, on the CPU the tests leave idle (about half of it during interop, S3 and browser
# tests); then their checks run. The log ends with the time of each phase.
test:
	@bash scripts/system-deps.sh test
	@STATIC_PROFILE=static-check bash scripts/phases.sh '&static-build' '&fuzz-build' lint unit wasm interop s3-test web-test \
	  wait static fuzz-smoke
	@echo "make test: all suites passed"

demo:
	@bash scripts/system-deps.sh demo
	@$(MAKE) --no-print-directory build s3-server web $(VENV)/.stamp
	bash scripts/demo.sh

bench: $(VENV)/.stamp
	bash bench/run.sh

bench-s3: build s3-server $(VENV)/.stamp
	bash bench/s3.sh

# The page in headless Chromium: against the official browser SDK (web/bench/run.mjs), then
# one 2 GiB file uploaded and downloaded through the page, verified, with the renderer's
# peak RSS under 400 MiB (web/bench/large.mjs; about 10 min, 6 GiB of disk in TMPDIR).
bench-web:
	@bash scripts/system-deps.sh test
	@$(MAKE) --no-print-directory build web s3-server web-deps
	node web/bench/run.mjs --sizes 16,64 --suites 0578,0478
	node web/bench/large.mjs --size-mib 2048 --max-rss-mib 400

clean:
	rm -rf $(WORK) target fuzz/target
