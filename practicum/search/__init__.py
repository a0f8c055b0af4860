"""Agent Q-style search: MCTS with self-critique over one episode, returning the episode's tree.

`search_episode(env, policy, critic, SearchConfig(...))` plays one episode and returns an `EpisodeTree`;
`SearchConfig(mode="greedy")` (or `play_greedy`) plays the policy's top action instead, same result type.
`SearchConfig(mode="sample", temperature=T)` draws each action from the policy instead (pass@k).
Search drives an environment and an agent only: it never writes to the store and never trains.
"""

from practicum.search.config import SearchConfig
from practicum.search.mcts import play_greedy, search_episode
from practicum.search.scoring import blend, puct_score, select_child, softmax_priors, uct_score
from practicum.search.tree import EpisodeTree, Node

__all__ = [
    "EpisodeTree",
    "Node",
    "SearchConfig",
    "blend",
    "play_greedy",
    "puct_score",
    "search_episode",
    "select_child",
    "softmax_priors",
    "uct_score",
]
