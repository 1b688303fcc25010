"""Tensor names as the service sees them: wrapper prefixes stripped, per-name rules applied."""

import re

WRAPPER_PREFIXES = ("module.", "_orig_mod.")
"""Prefixes that wrappers add to a model's state dict: DistributedDataParallel and DataParallel
(``module.``), ``torch.compile`` (``_orig_mod.``), in any nesting."""


def _patterns(name, rules):
    if rules is None:
        return []
    if isinstance(rules, (str, re.Pattern)):
        rules = [rules]
    compiled = []
    for rule in rules:
        try:
            compiled.append(re.compile(rule) if isinstance(rule, str) else rule)
        except re.error as e:
            raise ValueError(f"{name} pattern {rule!r} is not a regular expression: {e}") from None
        if not isinstance(compiled[-1], re.Pattern):
            raise TypeError(f"{name} must be regular expressions (str or re.Pattern), got {rule!r}")
    return compiled


class NameRules:
    """How a publisher names and sorts out the tensors of a state dict.

    ``strip_prefixes``: stripped from the start of every name, repeatedly, so that a checkpoint
    loads into the unwrapped model with ``strict=True`` (``()`` keeps names as they are).
    ``exclude``: regular expressions (``re.search`` on the bare name); a tensor any of them
    matches is not published, so it is in no EMA and no checkpoint. ``copy``: regular
    expressions for tensors whose EMA is the latest weights rather than an average (buffers such
    as BatchNorm's running statistics, in timm's and ema-pytorch's terms); integer tensors always
    are.
    """

    def __init__(self, strip_prefixes=WRAPPER_PREFIXES, exclude=None, copy=None):
        if isinstance(strip_prefixes, str):
            strip_prefixes = (strip_prefixes,)
        self.strip_prefixes = tuple(strip_prefixes or ())
        if any(not isinstance(p, str) or not p for p in self.strip_prefixes):
            raise ValueError(f"strip_prefixes must be non-empty strings, got {strip_prefixes!r}")
        self.exclude = _patterns("exclude", exclude)
        self.copy = _patterns("copy", copy)

    def bare(self, name):
        """``name`` without the wrapper prefixes at its start."""
        stripped = True
        while stripped:
            stripped = False
            for p in self.strip_prefixes:
                if name.startswith(p) and len(name) > len(p):
                    name, stripped = name[len(p):], True
        return name

    def excluded(self, bare):
        return any(p.search(bare) for p in self.exclude)

    def copied(self, bare):
        return any(p.search(bare) for p in self.copy)

    def rename(self, items):
        """``(bare name, value)`` of ``(name, value)`` pairs, excluded ones left out; ValueError
        if two names are one once stripped."""
        seen, result = {}, []
        for name, value in items:
            if not isinstance(name, str):
                raise TypeError(f"tensor names must be str, got {name!r}")
            bare = self.bare(name)
            if bare in seen:
                raise ValueError(f"tensors {seen[bare]} and {name} are both {bare} without the prefixes "
                                 f"{list(self.strip_prefixes)}; pass strip_prefixes=() to keep names as they are")
            seen[bare] = name
            if not self.excluded(bare):
                result.append((bare, value))
        return result
