"""Preparing a machine: the Docker engine, Compose, the base image and client tools.

Owns what `make lab-up` and `lab up` (as root on Debian) install (`prepare`), how
apt is driven for it (`apt`), and the questions a ready host is asked on the
engine's own socket, without a `docker` run (`local_engine`). `python -m lab.host` is
its command line. It may import `lab.config` and the root modules only.
"""
