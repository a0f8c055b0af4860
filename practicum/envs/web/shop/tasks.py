"""Shop tasks ("a red cotton t-shirt in size M under $20") and WebShop's graded reward.

A task is drawn from a seed: a target product, one or two of its attributes (material, features), its
colour and size options and a price limit above its price. Any product that meets the same requirements
earns the full reward, not only the target.

Train, validation and test tasks differ in their seeds *and* in their content: a stable hash of what the
instruction asks for puts each possible request in exactly one of the three splits (`core.content_split`),
and a seed redraws until it gets a request of its own split. A validation or test instruction is therefore
never a train instruction, and a validation instruction never a test one.

The reward follows WebShop (Yao et al., 2022):

    r = type_score * (attributes matched + options matched + [price <= limit]) / (attributes + options + 1)

with `type_score` 1 for the requested product type, 0.5 for another type of the same category and 0.1
otherwise. An order of several items scores the mean of its items, so only an order of exactly one fully
matching item scores 1.0 (success).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from practicum.envs.core import Split, Task, content_split, describe_splits
from practicum.envs.web.shop.catalog import OPTION_NAMES, Catalog, Product, default_catalog
from practicum.errors import EnvError, UnknownIdError

SUITE = "shop"
SPLITS: dict[Split, range] = {
    "train": range(0, 2_000),
    "validation": range(2_000_000, 2_000_500),
    "test": range(1_000_000, 1_000_500),
}
SUCCESS_REWARD = 1.0 - 1e-9

_TEMPLATES = (
    "I want {a_thing}{features}, in {color}, size {size}, and priced under ${limit}.",
    "Find me {a_thing}{features}; I need it in {color}, size {size}, for less than ${limit}.",
    "Buy {a_thing}{features} in {color} (size {size}) that costs no more than ${limit}.",
    "I'm looking for {a_thing}{features}. Colour: {color}. Size: {size}. Budget: under ${limit}.",
)


@dataclass(frozen=True)
class ShopGoal:
    """What a shop instruction asks for; `target` is one product that meets it all."""

    product_type: str
    category: str
    attributes: tuple[str, ...]
    options: tuple[tuple[str, str], ...]  # (option name, value), in OPTION_NAMES order
    price_limit: float
    target: str

    @property
    def content(self) -> str:
        """The canonical text of the request (what decides its split)."""
        opts = ",".join(f"{k}={v}" for k, v in self.options)
        return f"{self.product_type}|{','.join(sorted(self.attributes))}|{opts}|{self.price_limit:g}"

    @property
    def query(self) -> str:
        """Keywords a shopper would type for this goal (used by scripted agents and examples)."""
        return " ".join([dict(self.options).get("color", ""), *self.attributes, self.product_type]).strip()

    def to_params(self) -> dict[str, Any]:
        """The goal as the JSON-friendly `Task.params` of a shop task."""
        return {
            "product_type": self.product_type,
            "category": self.category,
            "attributes": list(self.attributes),
            "options": dict(self.options),
            "price_limit": self.price_limit,
            "target": self.target,
            "query": self.query,
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ShopGoal:
        """Rebuild a goal from `Task.params`."""
        try:
            return cls(
                product_type=str(params["product_type"]),
                category=str(params["category"]),
                attributes=tuple(params["attributes"]),
                options=tuple((k, str(params["options"][k])) for k in OPTION_NAMES if k in params["options"]),
                price_limit=float(params["price_limit"]),
                target=str(params["target"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EnvError(f"not a shop task (params lack {exc}); build shop tasks with make_task(seed)") from exc


@dataclass(frozen=True)
class RewardBreakdown:
    """WebShop's reward for one purchased item and the counts it comes from."""

    reward: float
    type_score: float
    attributes_matched: int
    attributes_total: int
    options_matched: int
    options_total: int
    price_ok: bool


def split_of(seed: int) -> Split:
    """The split of a shop seed."""
    for split, seeds in SPLITS.items():
        if seed in seeds:
            return split
    raise UnknownIdError(f"seed {seed} is in no split of suite 'shop' ({describe_splits(SPLITS)})")


def draw_goal(rng: random.Random, catalog: Catalog) -> ShopGoal:
    """A random goal met by a random product of `catalog`."""
    product = rng.choice(catalog.products)
    pool = sorted(product.attributes)
    attributes = tuple(sorted(rng.sample(pool, k=min(len(pool), rng.choice((1, 2, 2))))))
    options = (("color", rng.choice(product.colors)), ("size", rng.choice(product.sizes)))
    slack = rng.uniform(0.0, 15.0)
    limit = float(5 * math.ceil((product.price + slack) / 5))
    if limit <= product.price:  # keep the target strictly within budget
        limit += 5.0
    return ShopGoal(product.product_type, product.category, attributes, options, limit, product.id)


def make_goal(seed: int, catalog: Catalog | None = None) -> ShopGoal:
    """The goal of task `seed`: drawn until its request belongs to the seed's split."""
    catalog = catalog or default_catalog()
    split = split_of(seed)
    for attempt in range(1_000):
        goal = draw_goal(random.Random(f"shop:{seed}:{attempt}"), catalog)
        if content_split(goal.content) == split:
            return goal
    raise EnvError(f"no {split} request found for shop seed {seed}")  # ~0.9**1000: never in practice


def requested_material(goal: ShopGoal, catalog: Catalog | None = None) -> str | None:
    """The material the instruction names (the target's, where the goal asks for it), if any."""
    product = (catalog or default_catalog()).by_id.get(goal.target)
    return product.material if product and product.material in goal.attributes else None


def thing(goal: ShopGoal, catalog: Catalog | None = None) -> str:
    """What the instruction asks for, in its own words: "cotton t-shirt", or the product type alone."""
    material = requested_material(goal, catalog)
    return f"{material} {goal.product_type}" if material else goal.product_type


def instruction(goal: ShopGoal, seed: int) -> str:
    """The instruction text of a goal (the template is picked by the seed)."""
    material = requested_material(goal)
    features = [a for a in goal.attributes if a != material]
    thing_text = thing(goal)
    a_thing = thing_text if goal.product_type.endswith("s") else f"{_article(thing_text)} {thing_text}"
    feature_text = f" that is {' and '.join(features)}" if features else ""
    opts = dict(goal.options)
    template = _TEMPLATES[seed % len(_TEMPLATES)]
    return template.format(
        a_thing=a_thing, features=feature_text, color=opts["color"], size=opts["size"], limit=f"{goal.price_limit:g}"
    )


def make_task(seed: int) -> Task:
    """The shop task for `seed` (deterministic)."""
    goal = make_goal(seed)
    return Task(suite=SUITE, seed=seed, split=split_of(seed), goal=instruction(goal, seed), params=goal.to_params())


def purchase_reward(goal: ShopGoal, product: Product, chosen: Mapping[str, str]) -> RewardBreakdown:
    """WebShop's reward for buying `product` with the options `chosen` (see the module docstring)."""
    if product.product_type == goal.product_type:
        type_score = 1.0
    elif product.category == goal.category:
        type_score = 0.5
    else:
        type_score = 0.1
    attrs = sum(1 for a in goal.attributes if a in product.attributes)
    opts = sum(1 for name, value in goal.options if str(chosen.get(name, "")).casefold() == value.casefold())
    price_ok = product.price <= goal.price_limit
    total = len(goal.attributes) + len(goal.options) + 1
    reward = type_score * (attrs + opts + int(price_ok)) / total
    return RewardBreakdown(reward, type_score, attrs, len(goal.attributes), opts, len(goal.options), price_ok)


def order_reward(goal: ShopGoal, items: Iterable[tuple[Product, Mapping[str, str]]]) -> float:
    """The reward of an order: the mean reward of its items (0 for an empty order)."""
    rewards = [purchase_reward(goal, product, chosen).reward for product, chosen in items]
    return sum(rewards) / len(rewards) if rewards else 0.0


def _article(phrase: str) -> str:
    return "an" if phrase[:1].lower() in "aeiou" else "a"
