"""Each toxic as a stage, timed on a `task.Clock`: exact, with no real time passing."""

import random

from twisted.internet import task
from twisted.trial import unittest

from lab.faults.schema import toxic_from_json
from lab.faults.stage import Stage
from lab.faults.toxics import make_stage


class Recorder:
    """The next stage: records (time, chunk) and (time, "eof"/"close")."""

    def __init__(self, clock):
        self.clock, self.events = clock, []

    def data(self, chunk):
        self.events.append((self.clock.seconds(), chunk))

    def eof(self, full):
        self.events.append((self.clock.seconds(), "close" if full else "eof"))

    def bytes(self):
        return b"".join(e for _, e in self.events if isinstance(e, bytes))


class FakeLink:
    def __init__(self, clock):
        self.clock, self.flows, self.resets = clock, 0, []

    def flow(self):
        self.flows += 1

    def reset(self):
        self.resets.append(self.clock.seconds())


class StageTest(unittest.TestCase):
    def setUp(self):
        self.clock = task.Clock()
        self.link = FakeLink(self.clock)
        self.out = Recorder(self.clock)

    def stage(self, kind, toxicity=1.0, seed=1, **attributes):
        toxic = toxic_from_json({"type": kind, "toxicity": toxicity, "attributes": attributes})
        stage = make_stage(toxic, self.link, self.clock, random.Random(seed))
        stage.next = self.out
        return stage

    def tearDown(self):
        self.assertEqual([], [c for c in self.clock.getDelayedCalls() if c.active()])


class LatencyTests(StageTest):
    def test_each_chunk_leaves_latency_after_it_arrived(self):
        s = self.stage("latency", latency=100)
        s.data(b"a")
        self.clock.advance(0.05)
        s.data(b"b")
        self.assertEqual(2, s.buffered())
        self.clock.advance(0.0499)
        self.assertEqual([], self.out.events)
        self.clock.pump([0.0001, 0.05])
        self.assertEqual([(0.1, b"a"), (0.15, b"b")],
                         [(round(t, 6), c) for t, c in self.out.events])
        self.assertEqual(0, s.buffered())

    def test_the_end_follows_the_last_chunk_without_delay_of_its_own(self):
        s = self.stage("latency", latency=100)
        s.data(b"a")
        s.eof(False)
        self.clock.advance(0.1)
        self.assertEqual([(0.1, b"a"), (0.1, "eof")], self.out.events)

    def test_jitter_stays_in_range_and_never_reorders(self):
        s = self.stage("latency", latency=100, jitter=50, seed=7)
        for i in range(50):
            s.data(bytes([i]))
            self.clock.advance(0.001)
        self.clock.pump([0.001] * 200)     # Clock.advance(1) would release all at t=1
        times = [t for t, _ in self.out.events]
        self.assertEqual(bytes(range(50)), self.out.bytes())
        self.assertEqual(sorted(times), times)
        late = [round(t - i * 0.001, 6) for i, t in enumerate(times)]
        self.assertTrue(all(0.05 <= d <= 0.151 for d in late), late)
        self.assertGreater(len(set(late)), 10)

    def test_removal_hands_on_what_it_holds_at_once(self):
        s = self.stage("latency", latency=1000)
        s.data(b"a")
        s.eof(True)
        s.detach(removed=True)
        self.assertEqual([(0, b"a"), (0, "close")], self.out.events)


class BandwidthTests(StageTest):
    def test_rate_in_kilobytes_per_second(self):
        s = self.stage("bandwidth", rate=10)      # 10,000 bytes/s, pieces of 1,000 bytes
        s.data(b"x" * 2500)
        self.clock.pump([0.05] * 6)
        self.assertEqual([(0.1, 1000), (0.2, 1000), (0.25, 500)],
                         [(round(t, 6), len(c)) for t, c in self.out.events])

    def test_an_idle_connection_earns_no_credit(self):
        s = self.stage("bandwidth", rate=1)
        self.clock.advance(10)
        s.data(b"x" * 100)
        self.clock.advance(0.0999)
        self.assertEqual([], self.out.events)
        self.clock.advance(0.0001)
        self.assertEqual(100, len(self.out.bytes()))

    def test_rate_zero_is_unlimited(self):
        s = self.stage("bandwidth", rate=0)
        s.data(b"abc")
        self.assertEqual([(0, b"abc")], self.out.events)


class SlicerTests(StageTest):
    def test_slices_average_size_delay_apart(self):
        s = self.stage("slicer", average_size=10, delay=1000)
        s.data(b"x" * 40)
        self.clock.pump([0.001] * 4)
        self.assertEqual([(0, 10), (0.001, 10), (0.002, 10), (0.003, 10)],
                         [(round(t, 6), len(c)) for t, c in self.out.events])

    def test_variation_keeps_every_byte_in_order(self):
        s = self.stage("slicer", average_size=8, size_variation=4, delay=0, seed=3)
        data = bytes(range(200))
        s.data(data)
        self.assertEqual(data, self.out.bytes())
        self.assertTrue(all(1 <= len(c) <= 12 for _, c in self.out.events))
        self.assertGreater(len(self.out.events), 10)


class TimeoutTests(StageTest):
    def test_drops_everything_then_closes_after_timeout(self):
        s = self.stage("timeout", timeout=500)
        s.data(b"lost")
        self.clock.advance(0.4999)
        self.assertEqual([], self.out.events)
        self.clock.advance(0.0001)
        self.assertEqual([(0.5, "close")], self.out.events)

    def test_zero_never_closes(self):
        s = self.stage("timeout", timeout=0)
        s.data(b"lost")
        self.clock.advance(3600)
        self.assertEqual([], self.out.events)

    def test_removal_closes_the_connection(self):
        s = self.stage("timeout", timeout=0)
        s.detach(removed=True)
        self.assertEqual([(0, "close")], self.out.events)


class ResetPeerTests(StageTest):
    def test_resets_at_the_first_data(self):
        s = self.stage("reset_peer")
        self.assertEqual([], self.link.resets)
        s.data(b"x")
        self.assertEqual([0], self.link.resets)
        self.assertEqual([], self.out.events)

    def test_resets_timeout_after_the_first_data(self):
        s = self.stage("reset_peer", timeout=200)
        self.clock.advance(1)
        s.data(b"x")
        s.data(b"y")
        self.clock.advance(0.2)
        self.assertEqual([1.2], self.link.resets)
        self.assertEqual([], self.out.events)


class LimitDataTests(StageTest):
    def test_passes_bytes_then_closes(self):
        s = self.stage("limit_data", bytes=5)
        s.data(b"abc")
        s.data(b"defg")
        s.data(b"h")
        self.assertEqual([(0, b"abc"), (0, b"de"), (0, "close")], self.out.events)

    def test_the_count_survives_an_update(self):
        old = self.stage("limit_data", bytes=5)
        old.data(b"abcd")
        new = self.stage("limit_data", bytes=6)
        new.adopt(old)
        new.data(b"efgh")
        self.assertEqual(b"abcdef", self.out.bytes())


class SlowCloseTests(StageTest):
    def test_data_passes_and_the_close_waits(self):
        s = self.stage("slow_close", delay=300)
        s.data(b"a")
        s.eof(False)
        self.assertEqual([(0, b"a")], self.out.events)
        self.clock.advance(0.3)
        self.assertEqual([(0, b"a"), (0.3, "eof")], self.out.events)


class ToxicityTests(StageTest):
    def test_rolled_once_per_connection_with_the_given_rng(self):
        rng = random.Random(42)
        toxic = toxic_from_json({"type": "latency", "toxicity": 0.5})
        kinds = [type(make_stage(toxic, self.link, self.clock, rng)) for _ in range(1000)]
        hits = sum(k is not Stage for k in kinds)
        self.assertTrue(400 < hits < 600, hits)
        rng = random.Random(42)
        again = [type(make_stage(toxic, self.link, self.clock, rng)) for _ in range(1000)]
        self.assertEqual(kinds, again)

    def test_zero_never_one_always(self):
        self.assertIs(Stage, type(self.stage("timeout", toxicity=0.0)))
        self.assertIsNot(Stage, type(self.stage("timeout", toxicity=1.0, timeout=0)))
