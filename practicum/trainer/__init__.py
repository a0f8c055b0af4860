"""Training from search trees: datasets as store queries, TRL DPO / rejection-sampling SFT, rounds, promotion,
export.

- `datasets.build_datasets(store, policy_id=...)`: step pairs, trajectory pairs and RFT examples (mined by
  `mining`), exportable in TRL's formats;
- `dpo.train_dpo`, `rft.train_rft`: one TRL stage, LoRA by default, stored behaviour log-probs as DPO reference;
- `rounds.run_round(store, TrainConfig(...))`: one round from the current policy to a candidate policy;
- `evaluate.promote_if_not_worse(...)` with `promotion.decide_promotion`: the promotion gate (candidate and parent
  played afresh on the same validation tasks);
- `schedule.round_due(...)`: when to train; `export.export_policy(...)`: merged model, adapter, datasets.

Submodules are imported on demand: TRL takes seconds to import.
"""
