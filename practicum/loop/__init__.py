"""The practice loop: search, train, promote and report, iteration after iteration, resumable.

- `config.PracticeConfig` (`config_from_dict`, `load_config`, `parse_sets`): every setting of a run, with the
  suites' own defaults;
- `practice.practice(config)`: a run from the format warm-up (`warmup`) to its last iteration, or `resume=` one;
- `graph`: the LangGraph graph of one iteration's steps, checkpointed beside the store;
- `episodes`: one episode played and written to the store once (by uid, under a lease);
- `executors`: a phase's episodes in this process, over worker processes, or over Ray actors (`ray_workers`);
- `manual`: one episode or one evaluation by hand (`practicum run`, `practicum eval`);
- `summary`: the iteration tables and the learning-curve plot; `convert`: search trees to store records.
"""
