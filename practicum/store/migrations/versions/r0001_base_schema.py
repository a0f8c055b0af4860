"""Base schema: runs, tasks, policies, episodes, nodes, pairs, training rounds and evals.

Revision ID: 0001_base_schema
Revises:
Created: 2026-11-24 20:29:45.635304
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0001_base_schema"
down_revision: str | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("config", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("seeds", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("versions", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("git_rev", sa.String(length=64), nullable=True),
        sa.Column("command", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('running', 'finished', 'failed', 'interrupted')", name=op.f("ck_runs_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("name", name=op.f("uq_runs_name")),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("suite", sa.String(length=200), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("split", sa.String(length=16), nullable=False),
        sa.Column("goal", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(none_as_null=True), nullable=False),
        sa.CheckConstraint("split IN ('train', 'heldout')", name=op.f("ck_tasks_split")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("key", name=op.f("uq_tasks_key")),
    )
    op.create_index("ix_tasks_suite_split", "tasks", ["suite", "split"])

    op.create_table(
        "policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("checkpoint_path", sa.Text(), nullable=True),
        sa.Column("base_model", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("metrics", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("state IN ('candidate', 'promoted', 'rejected', 'retired')", name=op.f("ck_policies_state")),
        sa.ForeignKeyConstraint(["parent_id"], ["policies.id"], name=op.f("fk_policies_parent_id_policies")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_policies_run_id_runs"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_policies_name")),
    )
    op.create_index("ix_policies_parent_id", "policies", ["parent_id"])
    op.create_index("ix_policies_run_id", "policies", ["run_id"])

    op.create_table(
        "episodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=200), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reward", sa.Double(), nullable=False),
        sa.Column("failure_kind", sa.String(length=16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("wall_seconds", sa.Double(), nullable=False),
        sa.Column("model_seconds", sa.Double(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("invalid_actions", sa.Integer(), nullable=False),
        sa.Column("node_count", sa.Integer(), nullable=False),
        sa.Column("pair_count", sa.Integer(), nullable=False),
        sa.Column("max_depth", sa.Integer(), nullable=False),
        sa.Column("info", sa.JSON(none_as_null=True), nullable=False),
        sa.CheckConstraint(
            "failure_kind IS NULL OR failure_kind IN ('agent', 'env', 'infra')", name=op.f("ck_episodes_failure_kind")
        ),
        sa.CheckConstraint("mode IN ('greedy', 'search')", name=op.f("ck_episodes_mode")),
        sa.CheckConstraint("outcome IN ('success', 'failure')", name=op.f("ck_episodes_outcome")),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"], name=op.f("fk_episodes_policy_id_policies")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_episodes_run_id_runs"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_episodes_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_episodes")),
        sa.UniqueConstraint("uid", name=op.f("uq_episodes_uid")),
    )
    op.create_index("ix_episodes_created_at", "episodes", ["created_at"])
    op.create_index("ix_episodes_policy_outcome", "episodes", ["policy_id", "outcome"])
    op.create_index("ix_episodes_run_id", "episodes", ["run_id", "id"])
    op.create_index("ix_episodes_run_outcome", "episodes", ["run_id", "outcome", "failure_kind"])
    op.create_index("ix_episodes_task_id", "episodes", ["task_id"])

    op.create_table(
        "training_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("policy_in_id", sa.Integer(), nullable=True),
        sa.Column("policy_out_id", sa.Integer(), nullable=True),
        sa.Column("recipe", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("metrics", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('running', 'finished', 'failed')", name=op.f("ck_training_rounds_status")),
        sa.ForeignKeyConstraint(
            ["policy_in_id"], ["policies.id"], name=op.f("fk_training_rounds_policy_in_id_policies")
        ),
        sa.ForeignKeyConstraint(
            ["policy_out_id"], ["policies.id"], name=op.f("fk_training_rounds_policy_out_id_policies")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_training_rounds_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_rounds")),
    )
    op.create_index("ix_training_rounds_policy_out_id", "training_rounds", ["policy_out_id"])
    op.create_index("ix_training_rounds_run_id", "training_rounds", ["run_id"])

    op.create_table(
        "evals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("suite", sa.String(length=200), nullable=False),
        sa.Column("split", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("n_tasks", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("success_rate", sa.Double(), nullable=False),
        sa.Column("mean_reward", sa.Double(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("info", sa.JSON(none_as_null=True), nullable=False),
        sa.CheckConstraint("mode IN ('greedy', 'search')", name=op.f("ck_evals_mode")),
        sa.CheckConstraint("split IN ('train', 'heldout')", name=op.f("ck_evals_split")),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_evals_policy_id_policies"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["training_rounds.id"], name=op.f("fk_evals_round_id_training_rounds"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_evals_run_id_runs"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evals")),
    )
    op.create_index("ix_evals_policy_split", "evals", ["policy_id", "split"])
    op.create_index("ix_evals_run_id", "evals", ["run_id"])

    op.create_table(
        "nodes",
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("parent_idx", sa.Integer(), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("observation", sa.Text(), nullable=True),
        sa.Column("prior_logprob", sa.Double(), nullable=True),
        sa.Column("prior", sa.Double(), nullable=True),
        sa.Column("critic_score", sa.Double(), nullable=True),
        sa.Column("critic_rationale", sa.Text(), nullable=True),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("blended_value", sa.Double(), nullable=True),
        sa.Column("reward", sa.Double(), nullable=False),
        sa.Column("terminal_reward", sa.Double(), nullable=True),
        sa.Column("is_terminal", sa.Boolean(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("invalid", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("expanded", sa.Boolean(), nullable=False),
        sa.Column("on_path", sa.Boolean(), nullable=False),
        sa.Column("info", sa.JSON(none_as_null=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["episode_id", "parent_idx"], ["nodes.episode_id", "nodes.idx"], name="fk_nodes_parent", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episodes.id"], name=op.f("fk_nodes_episode_id_episodes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("episode_id", "idx", name=op.f("pk_nodes")),
    )
    op.create_table(
        "eval_results",
        sa.Column("eval_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("reward", sa.Double(), nullable=False),
        sa.Column("failure_kind", sa.String(length=16), nullable=True),
        sa.Column("episode_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "failure_kind IS NULL OR failure_kind IN ('agent', 'env', 'infra')",
            name=op.f("ck_eval_results_failure_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episodes.id"], name=op.f("fk_eval_results_episode_id_episodes"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["eval_id"], ["evals.id"], name=op.f("fk_eval_results_eval_id_evals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_eval_results_task_id_tasks")),
        sa.PrimaryKeyConstraint("eval_id", "task_id", name=op.f("pk_eval_results")),
    )
    op.create_index("ix_eval_results_task_id", "eval_results", ["task_id"])

    op.create_table(
        "pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=True),
        sa.Column("node_idx", sa.Integer(), nullable=True),
        sa.Column("chosen_idx", sa.Integer(), nullable=True),
        sa.Column("rejected_idx", sa.Integer(), nullable=True),
        sa.Column("chosen_episode_id", sa.Integer(), nullable=True),
        sa.Column("rejected_episode_id", sa.Integer(), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("chosen", sa.Text(), nullable=False),
        sa.Column("rejected", sa.Text(), nullable=False),
        sa.Column("margin", sa.Double(), nullable=True),
        sa.Column("chosen_logprob", sa.Double(), nullable=True),
        sa.Column("rejected_logprob", sa.Double(), nullable=True),
        sa.Column("round_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("info", sa.JSON(none_as_null=True), nullable=True),
        sa.CheckConstraint("kind IN ('step', 'trajectory')", name=op.f("ck_pairs_kind")),
        sa.ForeignKeyConstraint(
            ["chosen_episode_id"], ["episodes.id"], name=op.f("fk_pairs_chosen_episode_id_episodes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["episode_id", "chosen_idx"],
            ["nodes.episode_id", "nodes.idx"],
            name="fk_pairs_chosen_node",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["episode_id", "node_idx"], ["nodes.episode_id", "nodes.idx"], name="fk_pairs_node", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["episode_id", "rejected_idx"],
            ["nodes.episode_id", "nodes.idx"],
            name="fk_pairs_rejected_node",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episodes.id"], name=op.f("fk_pairs_episode_id_episodes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rejected_episode_id"],
            ["episodes.id"],
            name=op.f("fk_pairs_rejected_episode_id_episodes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["training_rounds.id"], name=op.f("fk_pairs_round_id_training_rounds"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pairs")),
    )
    op.create_index("ix_pairs_chosen_episode_id", "pairs", ["chosen_episode_id"])
    op.create_index("ix_pairs_created_at", "pairs", ["created_at"])
    op.create_index("ix_pairs_episode_node", "pairs", ["episode_id", "node_idx"])
    op.create_index("ix_pairs_rejected_episode_id", "pairs", ["rejected_episode_id"])
    op.create_index("ix_pairs_round_created", "pairs", ["round_id", "created_at"])


def downgrade() -> None:
    """Undo this revision: drop every table (their indexes go with them)."""
    op.drop_table("pairs")
    op.drop_table("eval_results")
    op.drop_table("nodes")
    op.drop_table("evals")
    op.drop_table("training_rounds")
    op.drop_table("episodes")
    op.drop_table("policies")
    op.drop_table("tasks")
    op.drop_table("runs")
