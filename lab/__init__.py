"""lab: a containerised corporate LAN (proxy, DNS, AD) for integration tests.

This file stays free of imports: the images copy the package in and run
parts of it on Debian's own Python and Twisted.
"""

__version__ = "0.1.0"
