"""Unit tests of the names a publisher gives the service: wrapper prefixes, exclude and copy."""

import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from averager_client.names import NameRules  # noqa: E402


class NameRulesTest(unittest.TestCase):

    def test_wrapper_prefixes_are_stripped_in_any_nesting(self):
        rules = NameRules()
        self.assertEqual(rules.bare("module._orig_mod.layer.weight"), "layer.weight")
        self.assertEqual(rules.bare("_orig_mod.module.w"), "w")
        self.assertEqual(rules.bare("encoder.module.w"), "encoder.module.w")  # only at the start
        self.assertEqual(rules.bare("module."), "module.")  # nothing would be left

    def test_stripping_can_be_turned_off(self):
        self.assertEqual(NameRules(strip_prefixes=()).bare("module.w"), "module.w")

    def test_two_names_that_are_one_once_stripped_are_refused(self):
        with self.assertRaisesRegex(ValueError, "module.w and w are both w"):
            NameRules().rename([("module.w", 1), ("w", 2)])

    def test_exclude_leaves_tensors_out_and_copy_names_them(self):
        rules = NameRules(exclude=[r"^head\."], copy=re.compile(r"running_(mean|var)$"))
        items = [("module.head.weight", 1), ("module.bn.running_mean", 2), ("module.bn.weight", 3)]
        self.assertEqual(rules.rename(items), [("bn.running_mean", 2), ("bn.weight", 3)])
        self.assertTrue(rules.copied("bn.running_mean"))
        self.assertFalse(rules.copied("bn.weight"))

    def test_a_bad_expression_says_which(self):
        with self.assertRaisesRegex(ValueError, "exclude pattern '\\(' is not a regular expression"):
            NameRules(exclude="(")
        with self.assertRaises(TypeError):
            NameRules(copy=[3])


if __name__ == "__main__":
    unittest.main()
