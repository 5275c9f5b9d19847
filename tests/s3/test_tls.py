"""cse over https, as real endpoints are: nginx terminates TLS with a certificate of a site CA
made here with openssl, in front of s3s-fs (which still checks every signature). The CA is
found as the AWS tools find it (--ca-bundle, AWS_CA_BUNDLE, ca_bundle in ~/.aws/config);
both payload-signing modes; and HTTPS_PROXY / NO_PROXY through a CONNECT proxy that counts
its tunnels.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import free_port, run_python, sha256_file, SEED_SCRIPTS

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def site_ca(tmp_path_factory):
    """A CA and a server certificate for localhost / 127.0.0.1 signed by it."""
    d = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cse test site CA",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
             "-out", "server.csr", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName = DNS:localhost, IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem", cwd=d)
    return d


NGINX_CONF = """
daemon off;
master_process off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {dir}/server.pem;
        ssl_certificate_key {dir}/server.key;
        location / {{
            proxy_pass http://127.0.0.1:{s3port};
            # SigV4 signs the Host header: the server must see the one the client sent.
            proxy_set_header Host $http_host;
            proxy_http_version 1.1;
            proxy_request_buffering off;
            proxy_buffering off;
        }}
    }}
}}
"""


@pytest.fixture(scope="session")
def tls_endpoint(site_ca, s3server):
    """https://localhost:PORT in front of the s3s-fs server."""
    port = free_port()
    conf = site_ca / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=site_ca, port=port, s3port=s3server.port))
    proc = subprocess.Popen(["nginx", "-p", str(site_ca), "-e", str(site_ca / "error.log"), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nginx did not start: " + (site_ca / "error.log").read_text(errors="replace"))
            time.sleep(0.05)
    yield f"https://localhost:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def tls_env(cse_env, tls_endpoint):
    env = dict(cse_env)
    env["AWS_ENDPOINT_URL"] = tls_endpoint
    return env


def round_trip(cse, env, bucket, tmp_path, *extra):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(9 * 1024 * 1024 + 17))  # two parts with --part-size 5MiB
    r = cse("cp", src, f"s3://{bucket}/tls.bin", "--part-size", "5MiB", *extra, env=env)
    assert r.returncode == 0, r.describe()
    out = tmp_path / "out.bin"
    r = cse("cp", f"s3://{bucket}/tls.bin", out, *extra, env=env)
    assert r.returncode == 0, r.describe()
    assert sha256_file(out) == sha256_file(src)
    return src


@pytest.mark.parametrize("signing", ["--unsigned-payload", "--signed-payload"])
def test_ca_bundle_flag_both_signing_modes(cse, tls_env, bucket, tmp_path, keypair, site_ca, signing):
    extra = ("--ca-bundle", site_ca / "ca.pem", "--public-key", keypair.public, "--private-key", keypair.private, signing)
    round_trip(cse, tls_env, bucket, tmp_path, *extra)


def test_untrusted_certificate_is_refused_clearly(cse, tls_env, bucket, tmp_path, keypair):
    src = tmp_path / "a.txt"
    src.write_text("hello")
    r = cse("cp", src, f"s3://{bucket}/a.txt", "--public-key", keypair.public, "--max-attempts", "1", env=tls_env)
    assert r.returncode == 3, r.describe()
    assert "certificate" in r.stderr.lower(), r.describe()
    assert len(r.stderr) < 2000


def test_aws_ca_bundle_and_profile_ca_bundle(cse, tls_env, bucket, tmp_path, keypair, site_ca, home):
    keys = ("--public-key", keypair.public, "--private-key", keypair.private)
    env = dict(tls_env, AWS_CA_BUNDLE=str(site_ca / "ca.pem"))
    round_trip(cse, env, bucket, tmp_path, *keys)
    # ca_bundle in the profile of ~/.aws/config, with ~ for the home directory.
    shutil.copy(site_ca / "ca.pem", home / "site-ca.pem")
    (home / ".aws").mkdir(exist_ok=True)
    (home / ".aws" / "config").write_text("[default]\nca_bundle = ~/site-ca.pem\n")
    r = cse("ls", f"s3://{bucket}/", env=tls_env)
    assert r.returncode == 0, r.describe()
    assert b"tls.bin" in r.stdout
    # A bundle without certificates is a configuration error (exit 5), not a TLS failure.
    (home / "empty.pem").write_text("not a certificate\n")
    r = cse("ls", f"s3://{bucket}/", "--ca-bundle", home / "empty.pem", env=tls_env)
    assert r.returncode == 5, r.describe()
    assert "certificate" in r.stderr.lower()


def test_users_script_reads_what_cse_wrote_over_tls(cse, tls_env, bucket, tmp_path, keypair, site_ca, s3server):
    src = round_trip(cse, tls_env, bucket, tmp_path, "--ca-bundle", site_ca / "ca.pem", "--public-key", keypair.public,
                     "--private-key", keypair.private)
    out = tmp_path / "by-script.bin"
    env = dict(os.environ, AWS_CA_BUNDLE=str(site_ca / "ca.pem"))
    run_python(SEED_SCRIPTS, "download", "--bucket", bucket, "--key", "tls.bin", "--file", out,
               "--endpoint-url", tls_env["AWS_ENDPOINT_URL"], "--access-key", s3server.access_key,
               "--secret-key", s3server.secret_key, "--private-key", keypair.private, "--public-key", keypair.public,
               env=env)
    assert sha256_file(out) == sha256_file(src)


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that counts the tunnels it opened."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.tunnels = []
        self.stop = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.tunnel, args=(client,), daemon=True).start()

    def tunnel(self, client):
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode()
            method, target, _ = line.split(" ", 2)
            host, port = target.rsplit(":", 1)
            if method != "CONNECT" or host not in ("localhost", "127.0.0.1"):
                client.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
                return
            self.tunnels.append(target)
            with socket.create_connection(("127.0.0.1", int(port))) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pair = {client: upstream, upstream: client}
                while True:
                    ready, _, _ = select.select(list(pair), [], [], 30)
                    if not ready:
                        return
                    for s in ready:
                        data = s.recv(65536)
                        if not data:
                            return
                        pair[s].sendall(data)

    def close(self):
        self.stop = True
        self.sock.close()


def test_https_proxy_and_no_proxy(cse, tls_env, bucket, tmp_path, keypair, site_ca):
    proxy = ConnectProxy()
    try:
        keys = ("--ca-bundle", site_ca / "ca.pem", "--public-key", keypair.public, "--private-key", keypair.private)
        env = {k: v for k, v in tls_env.items() if k.lower() != "no_proxy"}
        env["HTTPS_PROXY"] = f"http://127.0.0.1:{proxy.port}"
        round_trip(cse, env, bucket, tmp_path, *keys)
        assert proxy.tunnels, "HTTPS_PROXY was not used"
        used = len(proxy.tunnels)
        env["NO_PROXY"] = "localhost"
        r = cse("ls", f"s3://{bucket}/", "--ca-bundle", site_ca / "ca.pem", env=env)
        assert r.returncode == 0, r.describe()
        assert len(proxy.tunnels) == used, "NO_PROXY was not honoured"
    finally:
        proxy.close()
