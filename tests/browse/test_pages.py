"""What each page shows, over HTTP: curves from evals and rounds, the committed path, tree levels with pairs
marked, lineage and promotion decisions, two policies side by side; missing ids are clear 404 pages."""

from __future__ import annotations

import html
import json
import re

import markupsafe
import pytest
from fastapi.testclient import TestClient

from practicum.browse import create_app
from practicum.browse.security import CONTENT_SECURITY_POLICY
from practicum.store import Store
from tests.browse.conftest import client_for
from tests.browse.seed import HOSTILE, Seeded


def figure(page: str, chart_id: str) -> dict:
    """The plotly figure a chart div carries in its data-figure attribute."""
    match = re.search(rf"<div class=\"chart\" id=\"{chart_id}\" data-figure='([^']*)'", page)
    assert match is not None, f"no chart {chart_id} in the page"
    return json.loads(html.unescape(match.group(1)))


def test_run_page_draws_test_success_per_iteration_and_training_losses(
    client: TestClient, seeded: tuple[Store, Seeded]
) -> None:
    page = client.get(f"/runs/{seeded[1].run_id}").text
    [line] = figure(page, "chart-test")["data"]
    # base (iteration 0) solved 1 of 2 test tasks, base-r1 1 of 2, base-r2 none (validation evals are not drawn).
    assert line["x"] == [0, 1, 2]
    assert line["y"] == [0.5, 0.5, 0.0]
    assert line["name"] == "frozenlake-4x4 (greedy)"
    losses = {t["name"]: (t["x"], [round(y, 6) for y in t["y"]]) for t in figure(page, "chart-loss")["data"]}
    assert losses == {
        "dpo loss (first step)": ([1, 2], [0.69, 0.69]),
        "dpo loss (last step)": ([1, 2], [0.5, 0.4]),
    }
    assert '<script src="/vendor/plotly.min.js" defer></script>' in page
    # Config, status and the iterations table are on the page too, escaped.
    assert "&lt;i&gt;config text&lt;/i&gt;" in page and "<i>config text</i>" not in page
    assert '<span class="badge running">running</span>' in page
    assert re.search(r"<td>2</td><td><a href=\"/policies/\d+\">base-r2</a></td>", page)


def test_run_without_evals_or_rounds_shows_empty_states_not_charts(
    client: TestClient, seeded: tuple[Store, Seeded]
) -> None:
    page = client.get(f"/runs/{seeded[1].empty_run_id}").text
    assert 'id="chart-test-empty"' in page and 'id="chart-loss-empty"' in page
    assert 'class="chart"' not in page
    assert "No policy was trained in this run yet." in page


def test_run_can_be_opened_by_name(client: TestClient, seeded: tuple[Store, Seeded]) -> None:
    response = client.get("/runs/demo-run")
    assert response.status_code == 200 and f"Run {seeded[1].run_id} · demo-run" in response.text


def test_episode_page_shows_each_committed_step_with_prompt_action_and_critic(
    client: TestClient, seeded: tuple[Store, Seeded]
) -> None:
    episode_id = seeded[1].episode_ids[0]
    page = client.get(f"/episodes/{episode_id}").text
    # The factory's committed path is nodes 0 -> 1 -> 4.
    assert re.findall(r'<li class="step" id="node-(\d+)">', page) == ["0", "1", "4"]
    step = page[page.index('id="node-4"') :]
    assert '<code class="action">move 0</code>' in step
    assert "prompt 4: ppp" in step and "observation 4: ooo" in step
    assert "because 4" in step  # the critic's rationale
    assert "relabel score" not in page  # read-only: no edit forms


def test_tree_levels_count_children_and_mark_the_pair_sides(client: TestClient, seeded: tuple[Store, Seeded]) -> None:
    episode_id = seeded[1].episode_ids[0]
    roots = client.get(f"/api/episodes/{episode_id}/tree").json()["nodes"]
    assert [(n["idx"], n["children"], n["pairs_here"]) for n in roots] == [(0, 3, 1)]
    level = client.get(f"/api/episodes/{episode_id}/tree", params={"parent": 1}).json()
    assert level["parent"] == 1
    nodes = {n["idx"]: n for n in level["nodes"]}
    assert sorted(nodes) == [4, 5, 6]
    assert [m["role"] for m in nodes[4]["marks"]] == ["chosen"]
    assert [m["role"] for m in nodes[5]["marks"]] == ["rejected"]
    assert nodes[6]["marks"] == []
    assert nodes[4]["marks"][0]["pair_id"] == nodes[5]["marks"][0]["pair_id"]
    assert nodes[4]["on_path"] and not nodes[5]["on_path"]
    assert all(n["children"] == 0 for n in nodes.values())  # 13 nodes: depth 2 is the last level
    assert {"visits", "value", "critic_score", "prior", "blended_value"} <= set(nodes[4])
    leaf = client.get(f"/api/episodes/{episode_id}/tree", params={"parent": 12}).json()
    assert leaf["nodes"] == []


def test_node_endpoint_gives_the_full_text_and_pairs_of_one_node(
    client: TestClient, seeded: tuple[Store, Seeded]
) -> None:
    node = client.get(f"/api/episodes/{seeded[1].episode_ids[0]}/nodes/2").json()["node"]
    assert node["prompt"].startswith("prompt 2: ") and node["critic_rationale"] == "because 2"
    assert [p["role"] for p in node["pairs"]] == ["rejected"]


def test_hostile_trajectory_text_is_escaped_everywhere_it_is_shown(
    client: TestClient, seeded: tuple[Store, Seeded]
) -> None:
    page = client.get(f"/episodes/{seeded[1].hostile_episode_id}").text
    assert "<script>window.__pwned" not in page
    assert "<img src" not in page and "<b>bold?</b>" not in page
    assert str(markupsafe.escape(HOSTILE)) in page  # shown as text, verbatim
    assert "&lt;script&gt;window.__pwned = &#39;pair&#39;&lt;/script&gt;" in page
    # The only scripts on the page are this server's own files.
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/tree.js" defer>']
    # JSON carries the text as data, served as JSON.
    response = client.get(f"/api/episodes/{seeded[1].hostile_episode_id}/nodes/1")
    assert response.headers["content-type"] == "application/json"
    assert HOSTILE in response.json()["node"]["observation"]


@pytest.mark.parametrize("path", ["/", "/episodes/1", "/api/episodes/1/tree", "/episodes/99999", "/static/tree.js"])
def test_every_response_carries_the_strict_content_security_policy(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_policies_page_shows_the_lineage_parent_to_child(client: TestClient, ids: Seeded) -> None:
    page = client.get("/policies").text
    base = page.index(f'id="policy-{ids.base_id}"')
    child = page.index(f'id="policy-{ids.child_id}"')
    grandchild = page.index(f'id="policy-{ids.rejected_id}"')
    assert base < child < grandchild
    # The child is nested in the base's list, the grandchild in the child's.
    assert page[base:child].count("<ul>") == 1 and page[child:grandchild].count("<ul>") == 1


def test_policy_page_shows_evals_promotion_negative_flips_and_export_command(client: TestClient, ids: Seeded) -> None:
    page = client.get(f"/policies/{ids.child_id}").text
    assert f'<code id="export-command">practicum export {ids.child_id}</code>' in page
    assert "greedy: promoted" in page and "not worse beyond noise" in page
    negative = page[page.index('class="flips negative"') :]
    link = f"/compare?a={ids.base_id}&amp;b={ids.child_id}&amp;task={ids.flipped_task.replace(':', '%3A')}"
    assert link in negative.split("</ul>")[0]
    assert "<td>1/2</td><td>50%</td>" in page  # its test eval
    assert f'<a href="/policies/{ids.base_id}">base</a> → <strong>base-r1</strong>' in page


def test_compare_shows_both_policies_on_the_same_test_task(client: TestClient, ids: Seeded) -> None:
    chooser = client.get("/compare", params={"a": ids.base_id, "b": ids.child_id}).text
    assert f'<option value="{ids.test_task}">' in chooser  # tasks both have results on
    assert f'<option value="{ids.validation_task}">' in chooser
    # The task base-r1 newly failed: base solved it (and played it in the run), base-r1 did not.
    page = client.get("/compare", params={"a": ids.base_id, "b": ids.child_id, "task": ids.flipped_task}).text
    first, second = page.split('id="side-1"')[1].split('id="side-2"')
    assert ">base</a>" in first and "solved" in first and "failed" not in first
    # The episode shown is the one base's eval judged, not merely its newest on the task.
    judged = f'judged by the newest eval of 4 episode(s) on this task: <a href="/episodes/{ids.episode_ids[0]}">'
    assert judged in first
    assert "what the model saw" in first  # its committed steps, with their prompts
    assert ">base-r1</a>" in second and "failed" in second
    assert "no episode of this policy on this task" in second


def test_compare_refuses_a_training_task(client: TestClient, ids: Seeded) -> None:
    response = client.get("/compare", params={"a": ids.base_id, "b": ids.child_id, "task": "taxi:101"})
    assert response.status_code == 400
    assert "is a train task; compare policies on a validation or test task" in response.text


def test_compare_shows_both_policies_on_a_validation_task(client: TestClient, ids: Seeded) -> None:
    page = client.get("/compare", params={"a": ids.base_id, "b": ids.child_id, "task": ids.validation_task})
    assert page.status_code == 200
    first, second = page.text.split('id="side-1"')[1].split('id="side-2"')
    assert ">base</a>" in first and "solved" in first
    assert ">base-r1</a>" in second and "failed" in second


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/runs/424242", "no run named &#39;424242&#39;"),
        ("/runs/no-such-run", "no run named &#39;no-such-run&#39;; recent runs: empty-run, demo-run"),
        ("/runs/424242/episodes", "no run named &#39;424242&#39;"),
        ("/episodes/424242", "episode 424242 does not exist"),
        ("/policies/424242", "policy 424242 does not exist"),
        ("/compare?a=1&b=2&task=nope:1", "no task with key &#39;nope:1&#39;"),
        ("/no/such/page", "no page at this address"),
        ("/api/episodes/424242/tree", "episode 424242 does not exist"),
        ("/api/episodes/1/tree?parent=999", "episode 1 has no node 999"),
        ("/api/episodes/1/nodes/999", "episode 1 has no node 999"),
        ("/api/episodes/424242/nodes/0", "episode 424242 does not exist"),
    ],
)
def test_missing_ids_are_404s_as_pages_and_as_json_in_the_api(client: TestClient, path: str, message: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert message in response.json()["error"]
        return
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text
    assert "Traceback" not in response.text and 'File "' not in response.text


def test_a_non_numeric_id_is_a_400_page(client: TestClient) -> None:
    response = client.get("/episodes/abc")
    assert response.status_code == 400
    assert "episode_id: Input should be a valid integer" in response.text


def test_plotly_js_is_served_from_the_installed_package(client: TestClient) -> None:
    response = client.get("/vendor/plotly.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.text.startswith("/**\n* plotly.js v")


def test_a_foreign_host_header_is_refused(seeded: tuple[Store, Seeded]) -> None:
    # DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 must not read the store.
    foreign = client_for(seeded[0])
    response = foreign.get("/", headers={"host": "evil.example:8765"})
    assert response.status_code == 400


def test_a_crash_while_building_a_page_is_a_plain_500_page_without_a_traceback(fresh: tuple[Store, Seeded]) -> None:
    store, _ = fresh
    with store.transaction() as conn:  # a store damaged behind practicum's back
        conn.exec_driver_sql("DROP TABLE edits")
    crashing = TestClient(create_app(store), base_url="http://127.0.0.1:8765", raise_server_exceptions=False)
    response = crashing.get("/edits")
    assert response.status_code == 500
    assert "the page could not be built; the server log has the details" in response.text
    assert "Traceback" not in response.text and "edits" not in response.text.split("<main>")[1].split("</main>")[0]
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
