"""One pass over a DPO pair's prompt instead of two.

TRL's `DPOTrainer` scores a batch of pairs as one batch of sequences, every chosen one then every rejected one, each
the whole prompt followed by its completion. The two sides of a pair share their prompt token for token (the
collator pads the prompts alike), and practice's prompts are hundreds of tokens against completions of a few, so
on a CPU almost half of a DPO step is the same prompt run twice. Inside `shared_prompt(backbone)`, the model's
backbone runs the prompt once per pair and each side's completion after it through the key/value cache, then
hands TRL the hidden states it would have computed: the same numbers (up to float rounding), with gradients that
reach the shared prompt from both sides, for about half the work. TRL's LM head, loss and metrics are untouched.

A batch that does not have this shape (an odd number of rows, sides that share no leading token, a request for
more than the last hidden states) runs the backbone as it is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch


@contextlib.contextmanager
def shared_prompt(backbone: torch.nn.Module) -> Iterator[None]:
    """Within the block, `backbone` (a transformers decoder, e.g. `LlamaModel`) runs each pair's common prefix
    once for batches laid out as DPO's [chosen rows; rejected rows]."""
    original = backbone.forward
    own = backbone.__dict__.get("forward")  # an instance-level forward someone set before us, kept

    def forward(*args: Any, **kwargs: Any) -> Any:
        return _shared_forward(original, *args, **kwargs)

    backbone.forward = forward
    try:
        yield
    finally:
        if own is None:
            del backbone.forward  # the class's own method again
        else:
            backbone.forward = own


def common_prefix(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> int:
    """How many leading columns row i and row i + n/2 share for every i (tokens and mask alike); 0 if none or the
    batch has an odd number of rows."""
    rows = input_ids.size(0)
    if rows == 0 or rows % 2:
        return 0
    half = rows // 2
    same = (input_ids[:half] == input_ids[half:]) & (attention_mask[:half] == attention_mask[half:])
    differs = (~same).any(dim=0)
    if not differs.any():
        return int(input_ids.size(1))
    return int(differs.nonzero()[0, 0])


def _shared_forward(original: Any, *args: Any, **kwargs: Any) -> Any:
    from transformers.modeling_outputs import BaseModelOutputWithPast

    input_ids = kwargs.get("input_ids", args[0] if args else None)
    attention_mask = kwargs.get("attention_mask")
    # peft passes inputs_embeds=None, output_attentions=False and the like: only a setting that asks for something
    # this forward does not do sends the batch down the plain path
    asked = {
        k
        for k, v in kwargs.items()
        if k not in ("input_ids", "attention_mask", "use_cache")
        and v not in (None, False)
        and (k, v) != ("return_dict", True)
    }
    if len(args) > 1 or asked or input_ids is None or attention_mask is None:
        return original(*args, **kwargs)
    width = input_ids.size(1)
    prefix = min(common_prefix(input_ids, attention_mask), width - 1)  # at least one token left for the second pass
    if prefix < 1:
        return original(*args, **kwargs)
    half = input_ids.size(0) // 2
    first = original(input_ids=input_ids[:half, :prefix], attention_mask=attention_mask[:half, :prefix], use_cache=True)
    # Interleave the sides (pair 0's chosen, pair 0's rejected, pair 1's chosen, ...) so that each row meets its
    # own pair's cached prompt after `batch_repeat_interleave(2)`.
    order = torch.stack([torch.arange(half), torch.arange(half) + half], dim=1).reshape(-1).to(input_ids.device)
    cache = first.cache
    cache.batch_repeat_interleave(2)
    rest = original(
        input_ids=input_ids[order, prefix:],
        attention_mask=attention_mask[order],
        cache=cache,
        use_cache=True,
    )
    back = torch.argsort(order)
    hidden = torch.cat([first.last_hidden_state.repeat(2, 1, 1), rest.last_hidden_state[back]], dim=1)
    return BaseModelOutputWithPast(last_hidden_state=hidden)
