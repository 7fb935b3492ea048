"""The interop harness: start, probe and stop real SIP peers on loopback.

One module per peer (``kamailio``, ``sipp``, ``baresip``, ``dnsmasq``), ``_process`` for the process
plumbing they share, ``certs`` for the test CA, ``sipprobe`` for a tiny SIP client used to check the
peers. None of this uses the project's own SIP code.
"""

from pathlib import Path

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
