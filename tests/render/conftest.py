"""What the render tests share: a small bundle with every kind of rendered data, a store holding
it, and a configuration that renders it."""

from __future__ import annotations

from pathlib import Path

from fsivr.config import Config
from fsivr.scenario import repository
from fsivr.store.db import Store

REALM = "pbx.example.com"

SMALL = """
mailboxes:
  - {box: office, email: office@example.com, pin: "4321"}
accounts:
  - {user: "101", password: "secret-101", name: "Anna Nowak", extension: "101", caller_id: "+48221234567",
     mailbox: office}
  - {user: "reception", password: "secret-r", name: "Reception"}
gateways:
  - {name: trunk, proxy: sip.operator.example, username: "48221234567", password: "trunk-pw", register: true,
     transport: tcp}
  - {name: peer, proxy: 192.0.2.50, params: {ping: "30", caller-id-in-from: "true"}}
scenarios:
  - scenario: office
    numbers: ["+48221234567", {number: "1000", exit_destination: "100 XML default"}]
    start: bye
    nodes:
      bye: {type: hangup}
"""


def make_store(tmp_path: Path, bundle: str) -> str:
    url = f"sqlite:///{tmp_path / 'fsivr.sqlite3'}"
    store = Store(url)
    store.upgrade()
    path = tmp_path / "bundle.yaml"
    path.write_text(bundle)
    repository.import_file(store, path)
    store.close()
    return url


def config(url: str) -> Config:
    cfg = Config()
    cfg.database_url = url
    cfg.serve_address = "127.0.0.1:8084"
    cfg.serve_failover = "192.0.2.10:8084"
    cfg.parking_lots = ["main 701-703 90", "vip.floor-2 801-801"]
    #: The realm the directory's a1-hashes are made for (fsivr.store.secrets).
    cfg.sip_realm = REALM
    return cfg
