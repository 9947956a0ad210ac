"""Throwaway certificates for tests: a CA and leaf certificates made with the openssl CLI."""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Leaf:
    cert: str
    key: str


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class ThrowawayCA:
    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        _openssl(
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=ngx-test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            cwd=self.dir,
        )
        self.ca_pem = (self.dir / "ca.crt").read_text()

    def issue(self, name: str, dns_names: list[str], ips: list[str] = ()) -> Leaf:
        sans = ",".join([f"DNS:{dns}" for dns in dns_names] + [f"IP:{ip}" for ip in ips])
        _openssl(
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            f"/CN={dns_names[0]}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=self.dir,
        )
        (self.dir / f"{name}.ext").write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            f"{name}.ext",
            "-out",
            f"{name}.crt",
            cwd=self.dir,
        )
        return Leaf((self.dir / f"{name}.crt").read_text(), (self.dir / f"{name}.key").read_text())

    def server_context(self, name: str, dns_names: list[str], ips: list[str] = ()) -> ssl.SSLContext:
        """A TLS server context presenting a new leaf of this CA (for stub servers)."""
        self.issue(name, dns_names, ips)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.dir / f"{name}.crt", self.dir / f"{name}.key")
        return context
