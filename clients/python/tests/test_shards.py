"""Unit tests of the shard helpers that need no process group: a ZeRO flat partition split into
shards, the checks of a shard against the layout, grid alignment and the coverage check that
names the elements no rank (or two ranks) hold. The exchange between ranks is tested against a
service in it_fsdp.py.

    python3 -m unittest discover -s clients/python/tests -p 'test_*.py'
"""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from averager_client import PublishError, layout, split_flat  # noqa: E402
from averager_client.shards import Segment, _check_coverage, aligned, check_shards  # noqa: E402


class SplitFlatTest(unittest.TestCase):
    STATE = {"a": torch.arange(10.0).reshape(2, 5), "b": torch.arange(3.0), "c": torch.arange(7.0)}

    def test_a_partition_in_the_middle_holds_the_end_of_one_tensor_and_the_start_of_the_next(self):
        flat = torch.cat([t.reshape(-1) for t in self.STATE.values()])
        shards = split_flat(flat[8:14], 8, self.STATE)
        self.assertEqual([(n, o, t.tolist()) for n, o, t in shards],
                         [("a", 8, [8.0, 9.0]), ("b", 0, [0.0, 1.0, 2.0]), ("c", 0, [0.0])])

    def test_partitions_end_to_end_give_every_element_once(self):
        flat = torch.cat([t.reshape(-1) for t in self.STATE.values()])
        held = {n: [] for n in self.STATE}
        for start in range(0, flat.numel(), 6):
            for name, offset, t in split_flat(flat[start:start + 6], start, layout(self.STATE)):
                held[name] += list(range(offset, offset + t.numel()))
        self.assertEqual(held, {n: list(range(t.numel())) for n, t in self.STATE.items()})

    def test_a_partition_past_the_tensors_is_refused(self):
        with self.assertRaisesRegex(ValueError, r"\[18, 22\) reaches past the 20 elements"):
            split_flat(torch.zeros(4), 18, self.STATE)


class CheckShardsTest(unittest.TestCase):
    INFOS = layout({"w": torch.zeros(4, 5), "h": torch.zeros(3, dtype=torch.float16)})

    def test_a_shard_is_flattened_and_kept_where_it_lies(self):
        (name, offset, flat), = check_shards([("w", 10, torch.ones(2, 5))], self.INFOS)
        self.assertEqual((name, offset, flat.shape), ("w", 10, torch.Size([10])))

    def test_a_shard_past_its_tensor_names_the_elements(self):
        with self.assertRaisesRegex(ValueError, r"shard of w holds elements \[15, 25\) of a tensor of 20"):
            check_shards([("w", 15, torch.ones(10))], self.INFOS)

    def test_a_shard_of_another_dtype_or_tensor_is_refused(self):
        with self.assertRaisesRegex(ValueError, "shard of h is F32; the layout says F16"):
            check_shards([("h", 0, torch.ones(3))], self.INFOS)
        with self.assertRaisesRegex(ValueError, "shard of x: no such tensor"):
            check_shards([("x", 0, torch.ones(3))], self.INFOS)

    def test_alignment_allows_a_short_last_cell_only_at_the_tensor_end(self):
        self.assertTrue(aligned([("w", 0, torch.ones(8)), ("w", 8, torch.ones(12))], 8, self.INFOS))
        self.assertFalse(aligned([("w", 0, torch.ones(9)), ("w", 9, torch.ones(11))], 8, self.INFOS))


class CoverageTest(unittest.TestCase):
    def test_shards_end_to_end_cover_a_tensor(self):
        _check_coverage("w", 20, [Segment(0, 7, 0, 0), Segment(7, 20, 1, 0)])

    def test_a_gap_names_the_missing_elements(self):
        with self.assertRaisesRegex(PublishError, r"tensor w: elements \[7, 9\) are in no rank's shard"):
            _check_coverage("w", 20, [Segment(0, 7, 0, 0), Segment(9, 20, 1, 0)])
        with self.assertRaisesRegex(PublishError, r"tensor w: elements \[18, 20\) are in no rank's shard"):
            _check_coverage("w", 20, [Segment(0, 18, 0, 0)])

    def test_an_overlap_names_the_elements_and_both_ranks(self):
        with self.assertRaisesRegex(PublishError, r"tensor w: elements \[5, 7\) are in two shards, of ranks 0 and 1"):
            _check_coverage("w", 20, [Segment(0, 7, 0, 0), Segment(5, 20, 1, 0)])


if __name__ == "__main__":
    unittest.main()
