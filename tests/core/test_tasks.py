"""Task sets: the shipped sets match the paper's, user files work, bad input gives clear errors."""

import pytest

from simpl_core.cli import main
from simpl_core.paths import resource
from simpl_core.tasks import TaskError, builtin_task_sets, resolve_tasks


def test_shipped_maze_sets_have_spec_sizes():
    sizes = {name: len(s) for name, s in builtin_task_sets().items() if s.domain == "maze"}
    assert sizes == {
        "maze-train-40": 40,
        "maze-train-20": 20,
        "maze-train-10": 10,
        "maze-target-10": 10,
        "maze-narrow-train": 10,
        "maze-narrow-top": 10,
        "maze-narrow-bottom": 10,
    }
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


@pytest.mark.parametrize(
    "content, message",
    [
        ("domain: maze\ntask_sets:\n  s: [[0, 0]]\n", "wall"),
        ("domain: maze\ntask_sets:\n  s: [[1, 2, 3]]\n", "two integers"),
        ("domain: maze\ntask_sets:\n  s: []\n", "non-empty"),
        ("domain: pinball\ntask_sets:\n  s: [[1, 1]]\n", "unknown domain"),
        ("task_sets: [1, 2]\n", "needs 'domain"),
        ("domain: maze\ntask_sets: {s: [[1, 1]\n", "cannot read"),
    ],
)
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


def test_simpl_help_shows_the_groups(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for group in ("data", "skills", "meta", "eval", "bench", "tasks"):
        assert f"\n    {group} " in out


@pytest.mark.parametrize(
    "old, new",
    [
        (
            "train-skills --config C --dataset D --out R",
            [["skills", "train", "--config", "C", "--dataset", "D", "--out", "R"]],
        ),
        ("eval-prior --bundle B", [["skills", "eval-prior", "--bundle", "B"]]),
        ("eval-skills --skills R --dataset D", [["skills", "eval-skills", "--skills", "R", "--dataset", "D"]]),
        ("meta-train --config C", [["meta", "train", "--config", "C"]]),
        ("meta-report R", [["meta", "report", "R"]]),
        ("adapt --bundle B", [["eval", "sample-efficiency", "--methods", "simpl", "--bundle", "B"]]),
        ("bench curves a.csv", [["eval", "curves", "a.csv"]]),
        ("bench task-inference", [["eval", "task-inference"]]),
        ("bench reproduce", [["eval", "reproduce"]]),
        ("bench sample-efficiency --seeds 1", [["eval", "sample-efficiency", "--seeds", "1"]]),
        ("export --skills S --out B", [["skills", "export", "S", "--out", "B"]]),
        ("export --meta M --out B", [["meta", "export", "M", "--out", "B"]]),
        (
            "export --skills S --meta M --out B",
            [["skills", "export", "S", "--out", "B"], ["meta", "export", "M", "--out", "B"]],
        ),
        ("bench env --domain maze", [["bench", "env", "--domain", "maze"]]),
    ],
)
def test_every_old_spelling_names_its_new_one(old, new):
    from simpl_core.cli.grammar import new_spellings

    assert new_spellings(old.split()) == new


def test_an_old_spelling_runs_and_prints_its_new_name(capsys):
    assert main(["meta-report", "no-such-run"]) == 2
    err = capsys.readouterr().err
    assert "`simpl meta-report no-such-run` is now spelled `simpl meta report no-such-run`" in err
    assert "simpl meta report: error: no-such-run: no metrics.jsonl rows" in err
