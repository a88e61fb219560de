"""Task sets: the shipped sets match the paper's, user files work, bad input gives clear errors."""

import pytest

from simpl_core.cli import main
from simpl_core.paths import resource
from simpl_core.tasks import TaskError, builtin_task_sets, resolve_tasks


def test_shipped_maze_sets_have_spec_sizes():
    sizes = {name: len(s) for name, s in builtin_task_sets().items() if s.domain == "maze"}
    assert sizes == {"maze-train-40": 40, "maze-train-20": 20, "maze-train-10": 10, "maze-target-10": 10,
                     "maze-narrow-train": 10, "maze-narrow-top": 10, "maze-narrow-bottom": 10}
    assert resolve_tasks("maze-target-10").tasks[0].goal == (12, 7)
    assert resolve_tasks("maze-train-10").tasks == resolve_tasks("maze-train-20").tasks[:10]
    targets = {t.goal for t in resolve_tasks("maze-target-10").tasks}
    assert not targets & {t.goal for t in resolve_tasks("maze-train-40").tasks}  # targets are unseen


def test_study_goals_are_target_goals():
    # the few-goal study compares the meta-learner with SPiRL's curves on these target goals
    study = resource("config", "studies", "maze_few_goals.yaml")
    goals = [t.goal for t in resolve_tasks(f"{study}:goals-4").tasks]
    assert goals[:1] == [t.goal for t in resolve_tasks(f"{study}:goal-20-16").tasks] == [(20, 16)]
    assert set(goals) <= {t.goal for t in resolve_tasks("maze-target-10").tasks}


def test_user_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("domain: maze\ntask_sets:\n  corners: [[1, 1], [20, 20]]\n  one: [[5, 5]]\n")
    assert [t.goal for t in resolve_tasks(f"{path}:corners").tasks] == [(1, 1), (20, 20)]
    with pytest.raises(TaskError, match="pick one"):
        resolve_tasks(str(path))


@pytest.mark.parametrize("content, message", [
    ("domain: maze\ntask_sets:\n  s: [[0, 0]]\n", "wall"),
    ("domain: maze\ntask_sets:\n  s: [[1, 2, 3]]\n", "two integers"),
    ("domain: maze\ntask_sets:\n  s: []\n", "non-empty"),
    ("domain: pinball\ntask_sets:\n  s: [[1, 1]]\n", "unknown domain"),
    ("task_sets: [1, 2]\n", "needs 'domain"),
    ("domain: maze\ntask_sets: {s: [[1, 1]\n", "cannot read"),
])
def test_malformed_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(TaskError, match=message):
        resolve_tasks(str(path))


def test_unknown_names_are_refused():
    with pytest.raises(TaskError, match="unknown task set 'maze-train-41'.*maze-train-40"):
        resolve_tasks("maze-train-41")
    with pytest.raises(TaskError, match="does not exist"):
        resolve_tasks("nowhere.yaml")


def test_cli_lists_and_reports_errors(capsys):
    assert main(["tasks"]) == 0
    assert "maze-train-40" in capsys.readouterr().out
    assert main(["tasks", "maze-foo"]) == 2
    assert "unknown task set" in capsys.readouterr().err
