"""`lab.stack.lines.Follow`: a live stream of lines, its first wanted line waited for
within a bound, closed once whatever happened."""

import queue

from lab.stack.lines import Follow


class Chunks:
    """Chunks as a test puts them; closing ends the iteration (as the engine's stream)."""

    def __init__(self):
        self.queue, self.closes = queue.Queue(), 0

    def __iter__(self):
        while (chunk := self.queue.get()) is not None:
            yield chunk

    def close(self):
        self.closes += 1
        self.queue.put(None)


def test_first_gives_the_first_wanted_line_even_split_across_chunks_and_closes():
    chunks = Chunks()
    for chunk in (b"squid: starting\nproxy: 12 helpers re", b"tired, 6 running\nlater\n"):
        chunks.queue.put(chunk)
    follow = Follow(iter(chunks), chunks.close)
    assert follow.first(lambda line: "helpers retired" in line, 5) == \
        "proxy: 12 helpers retired, 6 running"
    assert follow.closed and chunks.closes == 1
    follow.close()                                   # again: nothing more
    assert chunks.closes == 1


def test_first_is_none_at_the_bound_when_the_line_never_comes():
    chunks = Chunks()
    chunks.queue.put(b"something else\n")
    follow = Follow(iter(chunks), chunks.close)
    assert follow.first(lambda line: "helpers retired" in line, 0.2) is None
    assert chunks.closes == 1
