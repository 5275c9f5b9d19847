"""Fixtures for the S3 integration tests: a local s3s-fs server, key pairs made
with openssl the way the users make theirs, a boto3 client set up like the
users' scripts, the environment `cse` runs in, and fault-injecting proxies.

Environment:
    CSE_BIN   the cse binary (default: target/release/cse under the repository root)
    S3S_FS    the s3s-fs binary (default: s3s-fs on PATH, then ~/.cargo/bin/s3s-fs)
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import seed_scripts  # noqa: E402
from faultproxy import FaultProxy, s3s_fs_unfinished_uploads  # noqa: E402

PYTHON = sys.executable
SEED_SCRIPTS = HERE / "seed_scripts.py"
SEED_ROUNDTRIP = REPO / "tests" / "python" / "seed_roundtrip.py"

# A proxy set in the caller's environment must not come between the tests and 127.0.0.1.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_name, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


def pytest_configure(config):
    config.addinivalue_line("markers", "large: uses the 200 MiB file (part of the default run and of CI)")


# -- helpers -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def unique_bucket(stem: str = "t") -> str:
    return f"{stem}-{uuid.uuid4().hex[:12]}"


def _find_s3s_fs() -> str | None:
    explicit = os.environ.get("S3S_FS")
    if explicit:
        return explicit
    return shutil.which("s3s-fs") or (
        str(Path.home() / ".cargo/bin/s3s-fs") if (Path.home() / ".cargo/bin/s3s-fs").exists() else None
    )


@dataclass
class S3Server:
    """A running s3s-fs on 127.0.0.1."""

    proc: subprocess.Popen
    root: Path
    host: str
    port: int
    access_key: str
    secret_key: str

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def unfinished_uploads(self, bucket: str | None = None) -> list[dict]:
        """Open multipart uploads as the server's files show them (s3s-fs has no ListMultipartUploads)."""
        return [u for u in s3s_fs_unfinished_uploads(str(self.root)) if bucket is None or u["bucket"] == bucket]

    def stray_part_files(self) -> list[str]:
        return sorted(n for n in os.listdir(self.root) if n.startswith(".upload_id-"))


def _start_s3s_fs(binary: str, root: Path, log: Path) -> S3Server:
    access_key = "AK" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(18))
    secret_key = "".join(secrets.choice(string.ascii_letters + string.digits + "/+") for _ in range(40))
    for _attempt in range(5):
        port = free_port()
        out = open(log, "ab")
        proc = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", str(port), f"--access-key={access_key}", f"--secret-key={secret_key}", str(root)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return S3Server(proc, root, "127.0.0.1", port, access_key, secret_key)
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait()
    raise RuntimeError(f"s3s-fs did not start; see {log}")


# -- the server and clients ---------------------------------------------------


@pytest.fixture(scope="session")
def s3server(tmp_path_factory):
    binary = _find_s3s_fs()
    if binary is None:
        pytest.exit(
            "s3s-fs not found: install it with `cargo install s3s-fs --version 0.14.1 --features binary` "
            "or set S3S_FS to its path",
            returncode=4,
        )
    base = tmp_path_factory.mktemp("s3s-fs")
    root = base / "data"
    root.mkdir()
    server = _start_s3s_fs(binary, root, base / "s3s-fs.log")
    yield server
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="session")
def s3(s3server):
    """boto3 S3 client against the server, set up like the users' scripts."""
    return seed_scripts.s3_client(s3server.endpoint, s3server.access_key, s3server.secret_key)


@pytest.fixture
def bucket(s3):
    name = unique_bucket()
    s3.create_bucket(Bucket=name)
    return name


# -- keys ------------------------------------------------------------------------


@dataclass
class KeyPair:
    private: Path
    public: Path


def make_key_pair(folder: Path) -> KeyPair:
    """An RSA-4096 pair made with the users' two openssl commands."""
    folder.mkdir(parents=True, exist_ok=True)
    private, public = folder / "private_key.pem", folder / "public_key.pem"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-out", str(private), "-pkeyopt", "rsa_keygen_bits:4096"],
        check=True,
        capture_output=True,
    )
    subprocess.run(["openssl", "rsa", "-pubout", "-in", str(private), "-out", str(public)], check=True, capture_output=True)
    return KeyPair(private, public)


@pytest.fixture(scope="session")
def keypair(tmp_path_factory):
    return make_key_pair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def other_keypair(tmp_path_factory):
    """A second, unrelated pair (same namespace and key name when used)."""
    return make_key_pair(tmp_path_factory.mktemp("other-keys"))


@pytest.fixture(scope="session")
def seed_keyring(keypair):
    return seed_scripts.rsa_keyring(*seed_scripts.read_key_pair(str(keypair.public), str(keypair.private)))


# -- cse -------------------------------------------------------------------------


@dataclass
class Result:
    args: list
    returncode: int
    stdout: bytes
    stderr: str

    def describe(self) -> str:
        return f"cse {' '.join(map(str, self.args))}\nexit {self.returncode}\nstderr:\n{self.stderr}"


@pytest.fixture(scope="session")
def cse_bin():
    path = Path(os.environ.get("CSE_BIN", REPO / "target" / "release" / "cse"))
    if not path.is_absolute():
        path = REPO / path
    if not path.exists():
        pytest.skip(f"cse binary not built: {path} (build it, or set CSE_BIN)")
    return path


def _base_env(home: Path) -> dict:
    """The environment cse starts from: nothing of the caller's AWS or cse settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CSE_")) and k not in ("HOME", "XDG_CONFIG_HOME", "RUST_LOG")
    }
    env["HOME"] = str(home)
    return env


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def cse_env(s3server, home):
    """Environment for cse: the server's credentials and endpoint, an empty HOME."""
    env = _base_env(home)
    env.update(
        AWS_ACCESS_KEY_ID=s3server.access_key,
        AWS_SECRET_ACCESS_KEY=s3server.secret_key,
        AWS_ENDPOINT_URL=s3server.endpoint,
        AWS_REGION="us-east-1",
    )
    return env


@pytest.fixture
def bare_env(home):
    """Environment for cse with no credentials, endpoint or region at all."""
    return _base_env(home)


class Cse:
    def __init__(self, binary: Path, env: dict, cwd: Path):
        self.binary = binary
        self.env = env
        self.cwd = cwd

    def command(self, *args) -> list[str]:
        return [str(self.binary), *map(str, args)]

    def __call__(self, *args, env=None, input=None, stdout=None, timeout=300, cwd=None) -> Result:
        proc = subprocess.run(
            self.command(*args),
            env=self.env if env is None else env,
            cwd=self.cwd if cwd is None else cwd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
        )
        return Result(list(args), proc.returncode, proc.stdout or b"", proc.stderr.decode(errors="replace"))

    def popen(self, *args, env=None, **kw) -> subprocess.Popen:
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.command(*args), env=self.env if env is None else env, cwd=self.cwd, **kw)


@pytest.fixture
def cse(cse_bin, cse_env, tmp_path):
    return Cse(cse_bin, cse_env, tmp_path)


# -- fault proxies -------------------------------------------------------------


@pytest.fixture
def make_proxy(s3server):
    """Start a FaultProxy in front of the server: make_proxy(rules) -> FaultProxy."""
    started = []

    def make(rules=(), emulate_list_uploads=True):
        proxy = FaultProxy(
            s3server.host, s3server.port, rules, uploads_root=str(s3server.root) if emulate_list_uploads else None
        ).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


# -- data --------------------------------------------------------------------------


LARGE_SIZE = 200 * 1024 * 1024 + 12345  # not a multiple of any part or frame size


@pytest.fixture(scope="session")
def large_file(tmp_path_factory):
    """A ~200 MiB file of random bytes and its sha256."""
    path = tmp_path_factory.mktemp("large") / "large.bin"
    h = hashlib.sha256()
    left = LARGE_SIZE
    with open(path, "wb") as f:
        while left:
            chunk = os.urandom(min(left, 8 << 20))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return path, h.hexdigest()


def run_python(*args, env=None, cwd=None, check=True, timeout=300):
    """Run a script with the test interpreter (the venv that has the official SDK)."""
    proc = subprocess.run(
        [PYTHON, *map(str, args)], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc
