"""A tiny random causal LM with a real tokenizer and chat template, built offline in about a second.

Tests that need a transformers model (policies, critics, the trainer, search) use this instead of the real
SmolLM2: same architecture family (Llama), same special tokens and ChatML chat template, but 2 layers of
width 64 and a byte-level BPE vocabulary of a few hundred tokens trained here on a small text. Its weights
are random (seeded), so it has learned nothing; it is for testing mechanics, not behaviour.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

# The SmolLM2 special tokens at the same ids, so code that works here works on the default model.
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

# SmolLM2's ChatML template without its built-in default system prompt.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Training text for the BPE merges: words that environments and prompts use, so that actions tokenize
# into a few tokens each, like they would with a real vocabulary. The critic's answers "Yes" and "No" (also
# after a space) are single tokens here, as in SmolLM2's vocabulary, so the critic reads them from one
# next-token distribution.
_CORPUS = """
Goal: reach the goal square without falling into a hole. Legal actions: left, right, up, down.
You act in a text environment to reach the goal. Answer with exactly one action and nothing else.
Actions so far: none. Next action? Proposed action: left. Is the proposed action a good move? Yes or No.
Yes, it is safe. No, it falls into a hole. Yes or No? No. Yes.
No: down falls into a hole.
Yes: right avoids the hole.
search[red shoes] click[buy now] click[next page] click[back to search] type[hello world]
The board: S F F F / F H F H / F F F H / H F F G. Move the piece. Play e2e4, g1f3, d7d5.
Drop a disc in column 1 2 3 4 5 6 7. Pick up the key, open the door, go to the ball.
The quick brown fox jumps over the lazy dog. A short rationale: moving right avoids the hole.
"""


def make_tiny_tokenizer(*, vocab_size: int = 400) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on a small text, with ChatML special tokens and chat template."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte is a token: any text encodes
        show_progress=False,
    )
    tok.train_from_iterator([_CORPUS] * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def make_tiny_model(path: str | Path, *, seed: int = 0, layers: int = 2, hidden: int = 64) -> Path:
    """Write a tiny random Llama causal LM with tokenizer and chat template to `path`; return the path.

    Deterministic for a given `seed`. The weights are initialised wider than usual (std 0.2) so that
    different actions get clearly different log-probabilities, which ranking tests rely on.
    """
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        initializer_range=0.2,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
