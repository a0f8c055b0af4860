"""The shop's catalog, generated from a seed: products across categories with attributes and options.

Every product has a type (t-shirt, mug...), a brand, one material, a few features, colour and size options,
a price and a rating. The *attributes* of a product (what an instruction can ask for besides options and a
price) are its material and its features. The same seed always gives the same catalog.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache, cached_property

CATALOG_SEED = 0
PRODUCTS_PER_TYPE = 25

# Option names, in the order product pages show them.
OPTION_NAMES: tuple[str, ...] = ("color", "size")


@dataclass(frozen=True)
class ProductType:
    """What one kind of product can be made of and sold as."""

    name: str  # singular, lower case: "t-shirt"
    plural: str
    materials: tuple[str, ...]
    features: tuple[str, ...]
    colors: tuple[str, ...]
    sizes: tuple[str, ...]
    price: tuple[float, float]


@dataclass(frozen=True)
class Category:
    """A department of the shop."""

    slug: str
    name: str
    types: tuple[ProductType, ...]


# One row per product type: name; plural; materials; features; colours; sizes; price range. Lists are
# separated by "|"; $COLORS, $CLOTHES and $SHOES stand for the shared lists below.
_SHARED = {
    "$COLORS": "black|white|gray|navy|red|blue|green|beige|pink|yellow|brown|purple",
    "$CLOTHES": "XS|S|M|L|XL|XXL",
    "$SHOES": "6|7|8|9|10|11|12",
}
_TABLE: dict[tuple[str, str], tuple[str, ...]] = {
    ("clothing", "Clothing"): (
        "t-shirt; t-shirts; cotton|organic cotton|polyester|linen;"
        " machine washable|slim fit|quick dry|crew neck|v-neck;"
        " $COLORS; $CLOTHES; 8-35",
        "hoodie; hoodies; cotton|fleece|polyester;"
        " machine washable|zip up|pullover|kangaroo pocket;"
        " $COLORS; $CLOTHES; 25-70",
        "jeans; jeans; denim|stretch denim;"
        " slim fit|relaxed fit|high waist|machine washable;"
        " blue|black|gray|white; 28|30|32|34|36|38; 30-90",
        "socks; socks; cotton|wool|bamboo;"
        " cushioned|moisture wicking|ankle length|machine washable;"
        " $COLORS; S|M|L; 5-20",
    ),
    ("shoes", "Shoes"): (
        "sneakers; sneakers; canvas|leather|mesh; lightweight|non-slip|memory foam|lace up; $COLORS; $SHOES; 35-120",
        "boots; boots; leather|suede|rubber;"
        " waterproof|non-slip|insulated|ankle high;"
        " black|brown|beige|gray|navy; $SHOES; 50-180",
        "sandals; sandals; leather|rubber|cork;"
        " adjustable strap|lightweight|arch support|quick dry;"
        " black|brown|beige|white; $SHOES; 15-70",
        "running shoes; running shoes; mesh|knit|synthetic;"
        " lightweight|breathable|cushioned|reflective;"
        " $COLORS; $SHOES; 45-160",
    ),
    ("bags", "Bags"): (
        "backpack; backpacks; nylon|canvas|leather|polyester;"
        " water resistant|laptop compartment|padded straps|anti-theft;"
        " black|gray|navy|green|red|brown; small|medium|large; 20-110",
        "tote bag; tote bags; canvas|cotton|leather|jute;"
        " zippered|reusable|inner pocket|foldable;"
        " black|beige|navy|white|brown; medium|large; 10-60",
        "duffel bag; duffel bags; nylon|canvas|polyester|leather;"
        " water resistant|shoe compartment|shoulder strap|foldable;"
        " black|gray|navy|green|brown; 30 l|45 l|60 l; 25-120",
        "laptop sleeve; laptop sleeves; neoprene|felt|leather|polyester;"
        " padded|water resistant|zippered|slim;"
        " black|gray|navy|pink|blue; 13 inch|14 inch|15 inch|16 inch; 12-50",
    ),
    ("kitchen", "Kitchen"): (
        "mug; mugs; ceramic|stoneware|glass|stainless steel;"
        " dishwasher safe|microwave safe|insulated|handmade;"
        " $COLORS; 8 oz|12 oz|16 oz; 6-30",
        "water bottle; water bottles; stainless steel|glass|plastic|aluminum;"
        " bpa free|insulated|leak proof|dishwasher safe;"
        " $COLORS; 16 oz|24 oz|32 oz|40 oz; 10-45",
        "frying pan; frying pans; cast iron|stainless steel|aluminum|copper;"
        " non-stick|oven safe|induction compatible|dishwasher safe;"
        " black|gray|red|blue; 8 inch|10 inch|12 inch; 18-90",
        "cutting board; cutting boards; bamboo|wood|plastic|glass;"
        " reversible|juice groove|dishwasher safe|non-slip;"
        " natural|white|black|gray; small|medium|large; 10-55",
    ),
    ("electronics", "Electronics"): (
        "headphones; headphones; plastic|aluminum|leather;"
        " wireless|noise cancelling|foldable|built-in microphone;"
        " black|white|silver|blue|red|pink; standard; 20-300",
        "phone case; phone cases; silicone|leather|plastic|rubber;"
        " shockproof|slim|card holder|magnetic;"
        " $COLORS; iphone 14|iphone 15|galaxy s23|pixel 8; 8-45",
        "charger; chargers; plastic|aluminum;"
        " fast charging|usb-c|foldable plug|wireless;"
        " black|white|gray; 20 w|30 w|65 w; 10-60",
        "keyboard; keyboards; plastic|aluminum;"
        " wireless|mechanical|backlit|compact;"
        " black|white|gray|pink; full size|tenkeyless|60 percent; 25-180",
    ),
    ("home", "Home"): (
        "pillow; pillows; cotton|memory foam|down|microfiber;"
        " hypoallergenic|machine washable|cooling|adjustable;"
        " white|gray|beige|blue; standard|queen|king; 15-80",
        "blanket; blankets; fleece|wool|cotton|microfiber;"
        " machine washable|weighted|lightweight|soft;"
        " $COLORS; twin|queen|king; 20-120",
        "desk lamp; desk lamps; metal|plastic|wood;"
        " dimmable|usb charging port|adjustable arm|energy efficient;"
        " black|white|silver|gold; small|large; 15-75",
        "bath towel; bath towels; cotton|turkish cotton|bamboo|microfiber;"
        " quick dry|absorbent|soft|machine washable;"
        " $COLORS; hand|bath|oversized; 8-40",
    ),
}


def _product_type(row: str) -> ProductType:
    name, plural, materials, features, colors, sizes, price = (f.strip() for f in row.split(";"))

    def split(field: str) -> tuple[str, ...]:
        return tuple(_SHARED.get(field, field).split("|"))

    low, high = (float(x) for x in price.split("-"))
    return ProductType(name, plural, split(materials), split(features), split(colors), split(sizes), (low, high))


CATEGORIES: tuple[Category, ...] = tuple(
    Category(slug, name, tuple(_product_type(row) for row in rows)) for (slug, name), rows in _TABLE.items()
)

_BRANDS = (
    "Northwind",
    "Bluepeak",
    "Cedar & Co",
    "Aurora",
    "Ironleaf",
    "Marlow",
    "Solstice",
    "Kestrel",
    "Harbor Lane",
    "Tidewater",
    "Fjordic",
    "Pinecrest",
    "Lumen",
    "Oakridge",
    "Verdant",
    "Quillon",
    "Brightway",
    "Summit Goods",
)
_ADJECTIVES = ("Classic", "Everyday", "Premium", "Essential", "Urban", "Modern", "Vintage", "Pro", "Comfort", "Basic")


@dataclass(frozen=True)
class Product:
    """One product; `colors` and `sizes` are the options a buyer chooses from on its page."""

    id: str
    title: str
    category: str  # category slug
    product_type: str
    brand: str
    material: str
    features: tuple[str, ...]
    colors: tuple[str, ...]
    sizes: tuple[str, ...]
    price: float
    rating: float
    description: str

    @property
    def attributes(self) -> frozenset[str]:
        """What an instruction can ask for besides options and price: the material and the features."""
        return frozenset((self.material, *self.features))

    def options(self, name: str) -> tuple[str, ...]:
        """The values of option `name` ("color" or "size")."""
        return self.colors if name == "color" else self.sizes


@dataclass(frozen=True)
class Catalog:
    """All products of the shop, in id order."""

    seed: int
    products: tuple[Product, ...]

    @cached_property
    def by_id(self) -> dict[str, Product]:
        """Products by id."""
        return {p.id: p for p in self.products}

    @cached_property
    def by_title(self) -> dict[str, Product]:
        """Products by title (what a listing shows)."""
        return {p.title: p for p in self.products}

    def in_category(self, slug: str) -> list[Product]:
        """The products of one category, in id order."""
        return [p for p in self.products if p.category == slug]

    @property
    def categories(self) -> tuple[Category, ...]:
        """The shop's departments."""
        return CATEGORIES


def category(slug: str) -> Category | None:
    """The category with this slug, if any."""
    return next((c for c in CATEGORIES if c.slug == slug), None)


def build_catalog(seed: int = CATALOG_SEED, per_type: int = PRODUCTS_PER_TYPE) -> Catalog:
    """Generate the catalog for `seed`: `per_type` products of every product type."""
    rng = random.Random(seed)
    products: list[Product] = []
    titles: set[str] = set()
    for cat in CATEGORIES:
        for ptype in cat.types:
            for _ in range(per_type):
                product = _product(rng, len(products) + 1, cat, ptype, titles)
                titles.add(product.title)
                products.append(product)
    return Catalog(seed=seed, products=tuple(products))


@cache
def default_catalog() -> Catalog:
    """The catalog every shop task refers to (built once per process)."""
    return build_catalog()


def _product(rng: random.Random, number: int, cat: Category, ptype: ProductType, taken: set[str]) -> Product:
    brand = rng.choice(_BRANDS)
    material = rng.choice(ptype.materials)
    features = tuple(sorted(rng.sample(ptype.features, k=rng.randint(1, min(3, len(ptype.features))))))
    colors = tuple(rng.sample(ptype.colors, k=rng.randint(min(2, len(ptype.colors)), min(5, len(ptype.colors)))))
    if len(ptype.sizes) <= 2:
        sizes = ptype.sizes
    else:
        start = rng.randrange(0, len(ptype.sizes) - 1)
        sizes = ptype.sizes[start : start + rng.randint(2, len(ptype.sizes))]
    low, high = ptype.price
    price = round(rng.uniform(low, high)) - 0.01
    rating = round(rng.uniform(3.0, 5.0), 1)
    adjective = rng.choice(_ADJECTIVES)
    # Titles are unique, so that a shopper (or a scripted agent) can tell products apart by name.
    for candidate in (adjective, *_ADJECTIVES):
        title = f"{brand} {candidate} {material.title()} {ptype.name.title()}, {features[0].capitalize()}"
        if title not in taken:
            adjective = candidate
            break
    else:
        title = f"{title} (model {number})"
    description = (
        f"A {adjective.lower()} {ptype.name} made of {material}: {', '.join(features)}. "
        f"Available in {', '.join(colors)}; sizes {', '.join(sizes)}."
    )
    return Product(
        id=f"P{number:04d}",
        title=title,
        category=cat.slug,
        product_type=ptype.name,
        brand=brand,
        material=material,
        features=features,
        colors=colors,
        sizes=sizes,
        price=price,
        rating=rating,
        description=description,
    )
