"""`ntlm_close`: an HTTP-aware toxic (the lab's, not Toxiproxy's) for the proxy's side
of the stream. It closes the connection after one leg of the NTLM handshake, as some
proxies and load balancers do: `leg` 1 after the 407 that offers NTLM (`Proxy-
Authenticate: NTLM`, no token yet), `leg` 2 after the 407 that carries the type-2
challenge (`NTLM <token>`). That 407 goes out with `Connection: close` and
`Proxy-Connection: close`, whole, and then the connection ends.

After leg 1 a correct client opens a new connection and runs the whole handshake on
it (curl/curl#954, genotrance/px#29). After leg 2 no client can succeed: the type-3
answer must travel on the connection that carried the type-2 challenge.

It reads the responses of a connection only while they are 407s with a length (squid's
always are); the first other response (the content, a CONNECT's 200) ends its
interest, and the rest of the stream passes untouched.
"""

from __future__ import annotations

import re

from lab.faults.stage import Stage

#: A header block larger than this is not a proxy's 407: stop reading, pass everything.
MAX_HEAD = 64 * 1024
_OFFER = re.compile(rb"^proxy-authenticate:[ \t]*ntlm[ \t]*\r?$", re.I | re.M)
_CHALLENGE = re.compile(rb"^proxy-authenticate:[ \t]*ntlm[ \t]+\S", re.I | re.M)
_LENGTH = re.compile(rb"^content-length:[ \t]*(\d+)[ \t]*\r?$", re.I | re.M)
_CLOSE_HEADERS = re.compile(rb"^(?:proxy-)?connection:[^\r\n]*\r\n", re.I | re.M)


class NtlmClose(Stage):
    _head = b""
    _body_left = 0          # bytes of the current 407's body still to pass
    _closing = False        # the current 407 is the leg to close after
    _watching = True        # still reading 407s; False: pass everything untouched
    _closed = False

    def data(self, chunk: bytes) -> None:
        while chunk and not self._closed:
            if not self._watching:
                self.next.data(chunk)
                return
            if self._body_left:
                body, chunk = chunk[:self._body_left], chunk[self._body_left:]
                self._body_left -= len(body)
                self.next.data(body)
                self._finish_if_done()
                continue
            self._head += chunk
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                if len(self._head) > MAX_HEAD:
                    self._watching = False
                    chunk, self._head = self._head, b""
                    continue
                return
            head, chunk = self._head[:end + 4], self._head[end + 4:]
            self._head = b""
            self._response(head)

    def _response(self, head: bytes) -> None:
        length = _LENGTH.search(head)
        if not head.startswith((b"HTTP/1.1 407", b"HTTP/1.0 407")) or length is None:
            self._watching = False          # the content, or a tunnel: not ours to read
            self.next.data(head)
            return
        leg = 2 if _CHALLENGE.search(head) else 1 if _OFFER.search(head) else 0
        if leg == self.attributes["leg"]:
            self._closing = True
            head = _CLOSE_HEADERS.sub(b"", head)
            head = head[:-2] + b"Connection: close\r\nProxy-Connection: close\r\n\r\n"
        self._body_left = int(length.group(1))
        self.next.data(head)
        self._finish_if_done()

    def _finish_if_done(self) -> None:
        if self._closing and not self._body_left:
            self._closed = True
            self.next.eof(True)

    def eof(self, full: bool) -> None:
        if not self._closed:
            if self._head:
                self.next.data(self._head)
                self._head = b""
            self._closed = True
            self.next.eof(full)
