"""The mock web server: the origin behind the lab's proxy, and in-process test servers.

Owns the server (`server.MockWebServer`), its pages (`resources`), the origin's
faults (`faults`) and the evidence it records for `lab matrix` (`records`).
`python -m lab.web` runs it (the `web` image does). Twisted and `lab.tidy` only:
the image copies `lab/web/` and `lab/tidy/` and runs them on Debian's Twisted 22.4.
Users import it as `lab.mockweb`.
"""
