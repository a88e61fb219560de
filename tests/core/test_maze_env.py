"""The maze env: layout, dynamics, task semantics, Gymnasium conformance, and the batched path."""

import gymnasium
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import simpl_core.envs  # noqa: F401
from simpl_core.envs import MAZE_ENV_ID
from simpl_core.envs.maze.env import MAZE_HORIZON, MazeEnv
from simpl_core.envs.maze.layout import MazeLayout
from simpl_core.envs.maze.model import MAX_JOINT_VELOCITY
from simpl_core.envs.maze.vector import MazeVectorEnv
from simpl_core.tasks import builtin_task_sets


def test_layout_is_spec_maze():
    layout = MazeLayout.load()
    assert layout.shape == (22, 22)
    assert layout.walls[0].all() and layout.walls[:, -1].all()
    assert layout.is_free((10, 10))  # the start cell
    assert not layout.is_free((3, 4)) and not layout.is_free((7, 2))  # "#...##." row 3, "#.######" row 7
    assert abs(layout.walls[1:-1, 1:-1].mean() - 0.27) < 0.01  # SiMPL's seed-0 maze is ~27 % walls
    # The merged wall boxes cover exactly the wall cells.
    covered = np.zeros_like(layout.walls)
    for x0, y0, x1, y1 in layout.wall_boxes():
        assert not covered[x0 : x1 + 1, y0 : y1 + 1].any()
        covered[x0 : x1 + 1, y0 : y1 + 1] = True
    assert (covered == layout.walls).all()


def test_every_goal_and_the_start_are_reachable():
    layout = MazeLayout.load()
    distances = layout.distances_to((10, 10))
    for task_set in builtin_task_sets().values():
        for task in task_set.tasks if task_set.domain == "maze" else ():
            assert distances[task.goal] > 0, task


def test_mujoco_model_matches_spec():
    model = MazeEnv().model
    assert model.opt.timestep == pytest.approx(0.01)
    assert np.allclose(model.opt.gravity, 0)
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
    assert list(model.actuator_gear[:, 0]) == [100, 100]
    assert np.allclose(model.dof_damping, 1.0)
    ball = model.body("ball")
    assert ball.mass[0] == pytest.approx(1000 * 4 / 3 * np.pi * 0.1**3)


def test_check_env_passes():
    env = gymnasium.make(MAZE_ENV_ID, task=[12, 7])
    check_env(env.unwrapped, skip_render_check=True)
    assert env.spec.max_episode_steps == MAZE_HORIZON


def test_start_distribution():
    env = MazeEnv()
    starts = np.array([env.reset(seed=s)[0] for s in range(200)])
    assert np.all(np.abs(starts[:, :2] - 10) <= 0.1)
    assert 0.05 < starts[:, 2:].std() < 0.15


def test_walls_block_the_ball():
    env = MazeEnv()
    env.reset(seed=0, options={"start": (1, 1)})
    for _ in range(300):  # push hard into the corner at (0, 0)
        obs, *_ = env.step(np.array([-1.0, -1.0]))
    # walls occupy cells x<=0.5 / y<=0.5 (cell (0, *) spans [-0.5, 0.5]); the ball of radius 0.1 stays outside
    assert obs[0] >= 0.5 + 0.1 - 0.01 and obs[1] >= 0.5 + 0.1 - 0.01


def test_velocity_is_clipped_before_each_step():
    env = MazeEnv()
    env.reset(seed=0, options={"start": (20, 1)})  # a long free row along y
    speeds = [env.step(np.array([0.0, 1.0]))[0][3] for _ in range(40)]
    assert max(speeds) <= MAX_JOINT_VELOCITY + 100 / env.model.body("ball").mass[0] * 0.01 + 1e-6
    assert max(speeds) > 4.5  # it does reach the clip


def test_success_is_terminal_with_reward_one():
    env = MazeEnv(task=[10, 12])
    env.reset(seed=0)
    for step in range(400):
        obs, reward, terminated, truncated, info = env.step(np.array([0.0, 1.0]))
        if terminated:
            break
    assert terminated and reward == 1.0 and info["success"] and not truncated
    assert np.linalg.norm(obs[:2] - [10, 12]) <= 1.0


def test_task_agnostic_env_never_rewards():
    env = MazeEnv()
    env.reset(seed=0)
    rewards = [env.step(env.action_space.sample())[1] for _ in range(200)]
    assert sum(rewards) == 0


def test_horizon_is_a_truncation():
    env = gymnasium.make(MAZE_ENV_ID, task=[1, 19], max_episode_steps=50)
    env.reset(seed=0)
    for _ in range(50):
        _, reward, terminated, truncated, _ = env.step(np.zeros(2, dtype=np.float32))
    assert truncated and not terminated and reward == 0


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="wall"):
        MazeEnv(task=[0, 0])
    with pytest.raises(ValueError, match="two integers"):
        MazeEnv(task=[1.5, 2])
    env = MazeEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="2 finite"):
        env.step(np.zeros(3))


def test_batched_env_matches_single_env():
    """Same start state, same actions: the batched path reproduces MazeEnv's trajectory."""
    vector = MazeVectorEnv(3, tasks=[[12, 7], [1, 19], None])
    obs, _ = vector.reset(seed=3)
    single = MazeEnv(task=[12, 7])
    single.reset(seed=0)
    single.data.qpos[:], single.data.qvel[:] = vector._state[0, 1:3], vector._state[0, 3:5]
    rng = np.random.default_rng(0)
    for _ in range(300):
        actions = rng.uniform(-1, 1, (3, 2))
        batched_obs, *_ = vector.step(actions)
        single_obs, *_ = single.step(actions[0])
        np.testing.assert_allclose(batched_obs[0], single_obs, atol=1e-5)
    vector.close()


def test_batched_env_autoreset_and_masks():
    vector = MazeVectorEnv(2, tasks=[[10, 11], None], max_episode_steps=30)
    vector.reset(seed=0)
    finished_at, agnostic_truncations = None, []
    for step in range(40):
        obs, reward, terminated, truncated, info = vector.step(np.array([[0.0, 1.0], [0.0, 0.0]]))
        agnostic_truncations.append(bool(truncated[1]))
        assert not terminated[1]  # a task-agnostic env never terminates
        if terminated[0] and finished_at is None:
            finished_at = step
            assert reward[0] == 1.0 and info["success"][0]
        if finished_at is not None and step == finished_at + 1:
            assert np.all(np.abs(obs[0, :2] - 10) <= 0.1)  # NEXT_STEP autoreset: back at the start
            assert reward[0] == 0 and not terminated[0]
    assert finished_at is not None
    assert agnostic_truncations[:30] == [False] * 29 + [True]  # the horizon truncates on the 30th step


def test_batched_partial_reset_with_disabled_autoreset():
    vector = MazeVectorEnv(3, autoreset_mode=AutoresetMode.DISABLED)
    vector.reset(seed=0)
    for _ in range(20):
        obs, *_ = vector.step(np.ones((3, 2)))
    mask = np.array([False, True, False])
    new_obs, _ = vector.reset(options={"reset_mask": mask, "start_cells": [(1, 1)], "tasks": [[1, 19]]})
    np.testing.assert_allclose(new_obs[[0, 2]], obs[[0, 2]])
    assert np.all(np.abs(new_obs[1, :2] - 1) <= 0.1)
    with pytest.raises(ValueError, match="shape"):
        vector.step(np.ones((2, 2)))


def test_make_vec_uses_the_batched_env():
    vector = gymnasium.make_vec(MAZE_ENV_ID, num_envs=4, vectorization_mode="vector_entry_point", tasks=[[12, 7]] * 4)
    assert isinstance(vector, MazeVectorEnv)
    obs, _ = vector.reset(seed=0)
    assert obs.shape == (4, 4) and vector.observation_space.shape == (4, 4)
    vector.close()
