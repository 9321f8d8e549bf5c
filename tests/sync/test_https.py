"""HTTPS when the URL says https: the laptop checks the certificate against a CA bundle,
refuses an unknown one, and skips checks only when ``insecure`` is set explicitly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from fieldkit.config import Settings
from fieldkit.sync.client import sync_once
from tests.sync.conftest import Backoffice, ServerProcess, close_visit


@pytest.fixture
def tls_server(backoffice: Backoffice, tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile, cafile = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(cafile))
    proc = ServerProcess(
        backoffice.proc.db_url,
        tmp_path,
        "--ssl-certfile",
        str(certfile),
        "--ssl-keyfile",
        str(keyfile),
    )
    proc.start()
    try:
        yield proc, cafile
    finally:
        proc.stop()


def test_https_with_a_ca_bundle(backoffice: Backoffice, laptop, tls_server) -> None:
    proc, cafile = tls_server
    assert proc.url.startswith("https://")
    token = backoffice.tokens["T001"]
    close_visit(laptop, "T001")

    # no max_attempts: an untrusted certificate is not retried, it stops at once
    unknown = sync_once(Settings(server_url=proc.url, token=token), laptop)
    assert unknown.failed is not None and unknown.waiting == 1
    assert "certificate is not trusted" in unknown.failed[1]

    trusted = sync_once(
        Settings(server_url=proc.url, token=token, ca_bundle=cafile), laptop, max_attempts=1
    )
    assert trusted.failed is None and trusted.pushed == 1 and trusted.waiting == 0


def test_insecure_only_when_asked(backoffice: Backoffice, laptop, tls_server) -> None:
    proc, _cafile = tls_server
    assert Settings().insecure is False
    close_visit(laptop, "T001")
    report = sync_once(
        Settings(server_url=proc.url, token=backoffice.tokens["T001"], insecure=True), laptop
    )
    assert report.failed is None and report.pushed == 1
