"""``make bench``: fsivr's outbound-socket server under load, beside greenswitch's stock server and
a bare gevent floor, all driven by the same simulator-based load generator. See bench/README.md."""
