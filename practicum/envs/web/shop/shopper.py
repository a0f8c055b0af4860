"""The shop's rule of thumb for search's rollouts: a shopper who reads the page and the instruction.

Random rollouts never finish a purchase: it takes six steps at least (search, open a product, choose the colour
and the size, add to the cart, place the order), and a random click among twenty-odd actions rarely makes the
next one. A rollout by this rule of thumb buys something from wherever the episode stands, so search's values
say which states lead to a good order within the steps left. It reads only what the page shows (product titles
and prices on a listing, the options on a product page) and what the instruction asks for.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from practicum.envs.web.page import Element
from practicum.envs.web.shop.catalog import OPTION_NAMES, Catalog, Product
from practicum.envs.web.shop.tasks import ShopGoal, thing


def shopper_action(goal: ShopGoal, elements: Sequence[Element], catalog: Catalog, rng: random.Random) -> str:
    """The shopper's next action on a page showing `elements`.

    Place the order when the cart can be checked out; on a product page, go back if it lacks a requested option,
    else choose the requested colour and size, then add it to the cart; on a listing, open a product of the
    requested type within the budget (most requested attributes first, ties drawn from `rng`), else the next
    page; anywhere else, search for what the instruction asks for in its own words ("cotton t-shirt"), which a
    policy that fills the search box with a run of the goal's words can say too.
    """
    if (order := _find(elements, "button", "Place order")) is not None:
        return f"click[{order.id}]"
    combos = {e.label.casefold(): e for e in elements if e.role == "combobox"}
    if (add := _find(elements, "button", "Add to cart")) is not None:
        for name, wanted in goal.options:
            box = combos.get(name)
            if box is None:
                continue
            match = next((o for o in box.options if o.casefold() == wanted.casefold()), None)
            if match is None:
                return "back"
            if (box.value or "").casefold() != wanted.casefold():
                return f"select[{box.id}][{match}]"
        return f"click[{add.id}]"
    titles = catalog.by_title
    fitting = [
        (e, _matched(goal, p)) for e in elements if e.role == "link" and (p := titles.get(e.label)) and _fits(goal, p)
    ]
    if fitting:
        best = max(matched for _, matched in fitting)
        return f"click[{rng.choice([e for e, matched in fitting if matched == best]).id}]"
    if (following := _find(elements, "link", "Next >")) is not None and any(e.label in titles for e in elements):
        return f"click[{following.id}]"
    return f"search[{thing(goal, catalog)}]"


def _find(elements: Sequence[Element], role: str, label: str) -> Element | None:
    return next((e for e in elements if e.role == role and e.label == label and not e.disabled), None)


def _fits(goal: ShopGoal, product: Product) -> bool:
    """Of the requested type, within the budget, and offered in the requested options."""
    wanted = dict(goal.options)
    offered = all(
        wanted[name].casefold() in {o.casefold() for o in product.options(name)}
        for name in OPTION_NAMES
        if name in wanted
    )
    return product.product_type == goal.product_type and product.price <= goal.price_limit and offered


def _matched(goal: ShopGoal, product: Product) -> int:
    return sum(a in product.attributes for a in goal.attributes)
