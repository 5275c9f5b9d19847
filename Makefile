# cse: client-side encryption compatible with the AWS Encryption SDK.
#   make demo   encrypt with cse, decrypt with the official Python SDK, and back
#   make test   everything CI runs: lint, Rust tests, wasm build, vectors, live interop, fuzz smoke
#   make bench  throughput and memory against the official Python SDK and OpenSSL

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

.PHONY: all build test lint unit wasm vectors official interop fuzz-smoke demo bench clean

all: build

$(VENV)/.stamp: tests/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r tests/python/requirements.txt
	touch $@

build:
	$(CARGO) build --release -p cse-interop --bins
	$(CARGO) build --release -p cse-core --example cse-file

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

test: lint unit wasm vectors official interop fuzz-smoke
	@echo "make test: all suites passed"

demo: build $(VENV)/.stamp
	rm -rf $(WORK)/demo && mkdir -p $(WORK)/demo
	cd $(WORK)/demo && openssl genpkey -algorithm RSA -out private_key.pem -pkeyopt rsa_keygen_bits:4096 2>/dev/null \
	  && openssl rsa -pubout -in private_key.pem -out public_key.pem 2>/dev/null
	echo "This is example for CSE!" > $(WORK)/demo/example.txt
	head -c 3000000 /dev/urandom >> $(WORK)/demo/example.txt
	@echo "== cse encrypts example.txt; the official Python SDK (the users' script) decrypts it"
	$(BIN)/examples/cse-file encrypt $(WORK)/demo/example.txt $(WORK)/demo/example_encrypted.txt $(WORK)/demo/public_key.pem
	$(PY) tests/python/seed_roundtrip.py decrypt $(WORK)/demo/example_encrypted.txt $(WORK)/demo/example_by_python.txt $(WORK)/demo/public_key.pem $(WORK)/demo/private_key.pem
	cmp $(WORK)/demo/example.txt $(WORK)/demo/example_by_python.txt
	@echo "== the official Python SDK encrypts; cse decrypts"
	$(PY) tests/python/seed_roundtrip.py encrypt $(WORK)/demo/example.txt $(WORK)/demo/example_python_encrypted.txt $(WORK)/demo/public_key.pem $(WORK)/demo/private_key.pem
	$(BIN)/examples/cse-file decrypt $(WORK)/demo/example_python_encrypted.txt $(WORK)/demo/example_by_cse.txt $(WORK)/demo/private_key.pem
	cmp $(WORK)/demo/example.txt $(WORK)/demo/example_by_cse.txt
	@echo "== a tampered message is refused and leaves no output file"
	cp $(WORK)/demo/example_encrypted.txt $(WORK)/demo/tampered
	$(PYTHON) -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[2000000] ^= 1; open(sys.argv[1], "wb").write(b)' $(WORK)/demo/tampered
	! $(BIN)/examples/cse-file decrypt $(WORK)/demo/tampered $(WORK)/demo/tampered_out.txt $(WORK)/demo/private_key.pem
	test ! -e $(WORK)/demo/tampered_out.txt
	@echo "demo: both directions agree byte for byte (files in $(WORK)/demo)"

bench: $(VENV)/.stamp
	bash bench/run.sh

clean:
	rm -rf $(WORK) target fuzz/target
