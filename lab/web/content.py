"""What the mock web server serves that clients check it by, without Twisted: `lab
check` (`lab.clients.check`) imports it, and a Twisted import would cost it ~0.3 s."""

#: the seed's page every check and example fetches, and its body
SIMPLERESOURCE = "simpleresource"
SAMPLE_RESOURCE = b"<p>Hello World!</p>"
