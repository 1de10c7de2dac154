"""Preparing a machine: the Docker engine, Compose, the base image and client tools.

Owns what `make lab-up` and `lab up` (as root on Debian) install (`prepare`) and how
apt is driven for it (`apt`). `python -m lab.host` is its command line. It may import
`lab.config` and the root modules only.
"""
