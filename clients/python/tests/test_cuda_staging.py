"""The copies of CUDA tensors that Publisher.publish starts: into reused pinned host buffers, on a
side stream, without the caller's thread waiting, and immune to the weights changing right after.
Needs a CUDA device; skipped, with a message, without one.

    python3 tests/test_cuda_staging.py
"""

import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from averager_client.publisher import _HostBuffers  # noqa: E402

CUDA = torch.cuda.is_available()


@unittest.skipUnless(CUDA, "no CUDA device: the pinned, side-stream copies of CUDA tensors were not run")
class PinnedStaging(unittest.TestCase):

    def tensors(self):
        g = torch.Generator(device="cuda").manual_seed(3)
        return [("w", torch.randn(4096, 1024, device="cuda", generator=g)),
                ("b", torch.randn(1024, device="cuda", generator=g).to(torch.bfloat16)),
                ("t", torch.randn(64, 32, device="cuda", generator=g).t())]  # strided

    def test_the_copy_holds_the_weights_of_the_call_even_if_they_change_at_once(self):
        pool = _HostBuffers()
        tensors = self.tensors()
        want = [t.cpu() for _, t in tensors]
        buffers, staged = pool.stage(tensors)
        for _, t in tensors:
            t.add_(1.0)  # the optimizer's next step, queued on the caller's stream right away
        staged.wait()
        for (name, _), got, expected in zip(tensors, buffers, want):
            self.assertTrue(got.is_pinned(), name)
            self.assertTrue(torch.equal(got, expected), f"{name} holds weights changed after the call")

    def test_buffers_are_reused_once_given_back(self):
        pool = _HostBuffers()
        tensors = self.tensors()
        first, staged = pool.stage(tensors)
        staged.wait()
        staged.give_back()
        second, staged = pool.stage(tensors)
        staged.wait()
        self.assertEqual([b.data_ptr() for b in first], [b.data_ptr() for b in second])
        third, _ = pool.stage(tensors)  # the second set is still out: a new one
        self.assertNotEqual([b.data_ptr() for b in second], [b.data_ptr() for b in third])

    def test_the_callers_thread_does_not_wait_for_the_copy(self):
        pool = _HostBuffers()
        big = [("w", torch.randn(64 << 20, device="cuda"))]  # 256 MiB: tens of ms over PCIe
        _, staged = pool.stage(big)
        staged.wait()
        staged.give_back()
        torch.cuda.synchronize()
        started = time.perf_counter()
        _, staged = pool.stage(big)
        returned = time.perf_counter() - started
        staged.wait()
        copied = time.perf_counter() - started
        print(f"stage returned after {returned * 1000:.2f} ms, the copy was done after {copied * 1000:.2f} ms")
        self.assertLess(returned, copied / 2)


if __name__ == "__main__":
    if not CUDA:
        print("CUDA staging: skipped, no CUDA device")
    unittest.main()
