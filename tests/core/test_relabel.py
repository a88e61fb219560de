"""Hindsight task relabelling: which goals a skill reached, and draws that reward a task where its goal was reached."""

import numpy as np
import pytest

from simpl_core.envs import make_vector_env
from simpl_core.envs.maze.task import MazeTask, goals_reached
from simpl_core.meta.relabel import RelabelPool, reach_test_for, relabelled
from simpl_core.rl.buffers import EpisodeBuffer, TransitionLayout
from simpl_core.rl.rollout import rollout_wave
from simpl_core.tasks import resolve_tasks

LAYOUT = TransitionLayout(4, 10)


def test_the_reach_test_records_each_goal_a_skill_passed_and_agrees_with_the_reward():
    """Push the ball along +y from (10, 10): it passes (10, 11) on the way to its own goal (10, 12), never (1, 19)."""
    goals = [MazeTask((10, 12)), MazeTask((10, 11)), MazeTask((1, 19))]
    env = make_vector_env("maze", 1, max_episode_steps=2000)
    push = lambda states, z: np.tile([[0.0, 1.0]], (len(states), 1))  # noqa: E731
    skills = lambda states, conds: np.zeros((len(states), 10), np.float32)  # noqa: E731
    episode = rollout_wave(env, goals[:1], skills, push, LAYOUT, 10, seed=0, reach_test=goals_reached(goals))[0]
    env.close()
    rows = LAYOUT.unpack(episode.rows)
    assert episode.success and episode.reached.shape == (len(episode.rows), 3)
    np.testing.assert_array_equal(episode.reached[:, 0], rows["reward"] > 0)  # own goal: exactly the env's reward
    first_pass = np.flatnonzero(episode.reached[:, 1])[0]
    assert first_pass < len(episode.rows) - 1  # (10, 11) was reached before the episode ended at (10, 12)
    assert not episode.reached[:, 2].any()


def test_kitchen_tasks_cannot_be_relabelled():
    with pytest.raises(ValueError, match="goal tasks"):
        reach_test_for(list(resolve_tasks("kitchen-train-23").tasks))


def pool_with(reached: np.ndarray) -> RelabelPool:
    """A pool of one episode whose rows are numbered in their first column, with the given reach mask."""
    rows = np.zeros((len(reached), LAYOUT.width), np.float32)
    rows[:, 0] = np.arange(len(reached))
    pool = RelabelPool(100, LAYOUT, reached.shape[1])
    pool.add(rows, reached)
    return pool


def test_a_relabelled_draw_is_rewarded_and_done_exactly_where_its_tasks_goal_was_reached():
    reached = np.random.default_rng(0).random((50, 3)) < 0.3
    pool = pool_with(reached)
    for task in range(3):
        rows = LAYOUT.unpack(pool.sample(task, 200, np.random.default_rng(task)))
        index = rows["state"][:, 0].astype(int)
        np.testing.assert_array_equal(rows["reward"], reached[index, task])
        np.testing.assert_array_equal(rows["done"], reached[index, task])
    with pytest.raises(ValueError, match=r"\(4, 3\) reach mask"):
        pool.add(np.zeros((4, LAYOUT.width), np.float32), None)


def test_a_relabelled_buffer_draws_its_share_from_the_pool():
    pool = pool_with(np.ones((10, 2), bool))  # every pooled row is rewarded
    own = EpisodeBuffer(100, LAYOUT.width)
    own.add(np.zeros((20, LAYOUT.width), np.float32))  # no own row is
    assert relabelled([own], None, 0.5) == [own]  # no pool: the buffers themselves
    (mixed,) = relabelled([own], pool, 0.25)
    rows = LAYOUT.unpack(mixed.sample(64, np.random.default_rng(0)))
    assert rows["reward"].sum() == 16 and len(mixed) == len(own)
