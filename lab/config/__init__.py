"""The configuration: what a lab is, stated once, before anything runs.

Owns the `LabConfig` model (`model`), lab.toml's schema and users (`schema`,
`users`), which file applies and how a project's file extends the packaged default
(`discovery`), the services, addresses and container ports (`topology`), which
engine and where ports are published (`dockerhost`), a lab's own passwords when it is
published beyond loopback (`generated`), and the files the proxy's container renders
from it (`render`). It may import only the standard library and
`lab.errors`: the images copy this folder whole and run it on Debian's Python.
"""
