"""The browse app's routes, one `APIRouter` per area; `ROUTERS` in the order the app includes them."""

from practicum.browse.routes import assets, edits, episodes, policies, runs

ROUTERS = (assets.router, runs.router, episodes.router, policies.router, edits.router)

__all__ = ["ROUTERS"]
