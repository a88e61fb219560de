"""The kitchen env: SiMPL's task semantics on FrankaKitchen-v1, Gymnasium conformance, and the batched path."""

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from simpl_core.envs import KITCHEN_ENV_ID, make_vector_env
from simpl_core.envs.domains import domain
from simpl_core.envs.kitchen.env import KITCHEN_HORIZON, OBSERVATION_NAMES, KitchenEnv
from simpl_core.envs.kitchen.task import SUBTASKS, completed_subtasks, parse_kitchen_task
from simpl_core.envs.kitchen.vector import KitchenVectorEnv
from simpl_core.rl.buffers import TransitionLayout
from simpl_core.rl.rollout import rollout_wave
from simpl_core.tasks import TaskError, resolve_task, resolve_tasks

SEQUENCE = ["microwave", "light switch", "slide cabinet", "kettle"]
# Joint positions (indices into the full qpos) that put a subtask at its goal.
AT_GOAL = {"microwave": {22: -0.75}, "light switch": {17: -0.69, 18: -0.05}, "slide cabinet": {19: 0.37}}


def put_at_goal(env: KitchenEnv, subtask: str) -> None:
    for index, value in AT_GOAL[subtask].items():
        env.data.qpos[index] = value


def test_shipped_task_sets_are_the_papers():
    train, target = resolve_tasks("kitchen-train-23"), resolve_tasks("kitchen-target-10")
    assert (len(train), len(target)) == (23, 10) and train.domain == target.domain == "kitchen"
    assert target.tasks[0].subtasks == ("microwave", "bottom burner", "light switch", "top burner")
    assert not set(train.tasks) & set(target.tasks)  # the targets are unseen sequences
    assert {name for task in train.tasks for name in task.subtasks} == set(SUBTASKS)


@pytest.mark.parametrize(
    "raw, message",
    [
        (["microwave", "kettle", "toaster", "light switch"], "unknown kitchen subtask"),
        (["microwave", "kettle", "light switch"], "4 distinct subtasks"),
        (["microwave", "kettle", "kettle", "light switch"], "4 distinct subtasks"),
        ([1, 2, 3, 4], "list of 4 subtask names"),
    ],
)
def test_bad_tasks_are_refused_with_the_reason(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_kitchen_task(raw)


def test_a_task_from_text_or_from_a_user_file(tmp_path):
    assert resolve_task("microwave, kettle, light switch, hinge cabinet", "kitchen").subtasks[3] == "hinge cabinet"
    assert resolve_task("kitchen-target-10:9", "kitchen") == resolve_tasks("kitchen-target-10").tasks[9]
    path = tmp_path / "mine.yaml"
    path.write_text('domain: kitchen\ntask_sets:\n  mine: ["kettle,microwave,top burner,oven"]\n')
    with pytest.raises(TaskError, match="unknown kitchen subtask.*'oven'"):
        resolve_tasks(str(path))


def test_observation_layout_and_copies():
    env = KitchenEnv()
    first, _ = env.reset(seed=0)
    assert first.shape == (59,) == (len(OBSERVATION_NAMES),) and first.dtype == np.float32
    kept = first.copy()
    env.step(np.full(9, 0.3))
    assert np.array_equal(first, kept)  # the base env reuses its arrays; ours are copies
    assert np.allclose(first[:9], env.base.robot_env.init_qpos[:9], atol=2e-3)  # robot qpos first (noise 1e-3)
    assert OBSERVATION_NAMES[18 + 14 : 18 + 21] == (
        "kettle_x",
        "kettle_y",
        "kettle_z",
        "kettle_qw",
        "kettle_qx",
        "kettle_qy",
        "kettle_qz",
    )


def test_in_order_credit_and_termination():
    env = KitchenEnv(task=SEQUENCE)
    env.reset(seed=0)
    put_at_goal(env, "light switch")  # done early: no credit while the microwave is not done
    _, reward, terminated, _, info = env.step(np.zeros(9))
    assert (reward, info["credited"], terminated) == (0.0, 0, False) and "light switch" in info["completed"]
    put_at_goal(env, "microwave")  # now both are credited in one step
    _, reward, _, _, info = env.step(np.zeros(9))
    assert (reward, info["credited"]) == (2.0, 2)
    put_at_goal(env, "slide cabinet")
    _, reward, terminated, _, _ = env.step(np.zeros(9))
    assert (reward, terminated) == (1.0, False)
    env.data.qpos[23:30] = [-0.23, 0.75, 1.62, 0.99, 0.0, 0.0, -0.06]  # the kettle on its goal burner
    _, reward, terminated, _, info = env.step(np.zeros(9))
    assert (reward, terminated, info["success"]) == (1.0, True, True)


def test_task_agnostic_env_pays_nothing_and_never_ends():
    env = KitchenEnv()
    env.reset(seed=0)
    put_at_goal(env, "microwave")
    _, reward, terminated, _, info = env.step(np.zeros(9))
    assert (reward, terminated) == (0.0, False) and info["completed"] == ["microwave"]
    assert completed_subtasks(env.data.qpos) == {"microwave"}


def test_registered_env_passes_the_checker_and_truncates_at_the_horizon():
    check_env(KitchenEnv(task=SEQUENCE), skip_render_check=True)
    env = gymnasium.make(KITCHEN_ENV_ID, task=SEQUENCE)
    assert env.spec.max_episode_steps == KITCHEN_HORIZON == domain("kitchen").horizon
    env.reset(seed=1)
    for _ in range(KITCHEN_HORIZON - 1):
        assert not env.step(np.zeros(9))[3]
    assert env.step(np.zeros(9))[3]  # truncated, not terminated
    with pytest.raises(ValueError, match="9 finite numbers"):
        env.step(np.full(9, np.nan))


def test_same_seed_same_episode():
    actions = np.random.default_rng(0).uniform(-1, 1, (10, 9))
    runs = []
    for _ in range(2):
        env = KitchenEnv()
        obs = [env.reset(seed=3)[0]] + [env.step(a)[0] for a in actions]
        runs.append(np.stack(obs))
    assert np.array_equal(*runs)


def test_batched_rollout_runs_one_task_per_env():
    tasks = list(resolve_tasks("kitchen-target-10").tasks[:3])
    env = make_vector_env("kitchen", len(tasks), max_episode_steps=20)
    layout = TransitionLayout(state_dim=59, latent_dim=2)
    episodes = rollout_wave(
        env,
        tasks,
        policy=lambda s, c: np.zeros((len(s), 2)),
        decoder=lambda s, z: np.zeros((len(s), 9), dtype=np.float32),
        layout=layout,
        skill_horizon=10,
        seed=0,
    )
    assert [episode.env_steps for episode in episodes] == [20] * 3
    assert all(len(episode.rows) == 2 and not episode.success for episode in episodes)
    assert env._tasks == tasks


def test_batched_env_steps_the_same_physics_as_the_single_env():
    single, batched = KitchenEnv(), KitchenVectorEnv(2)
    single.base.robot_env.robot_noise_ratio = single.base.object_noise_ratio = 0.0  # compare noise-free
    batched._noise[:] = 0.0
    actions = np.random.default_rng(0).uniform(-1, 1, (25, 9))
    first, _ = single.reset(seed=0)
    observations, _ = batched.reset(seed=0)
    assert np.array_equal(first, observations[0])
    for action in actions:
        expected = single.step(action)[0]
        observations = batched.step(np.stack([action, np.zeros(9)]))[0]
        assert np.allclose(observations[0], expected, atol=1e-6)


def test_batched_env_credits_each_env_its_own_task_and_autoresets():
    env = KitchenVectorEnv(2, tasks=[SEQUENCE, ["light switch", "microwave", "kettle", "slide cabinet"]])
    env.reset(seed=0)
    for subtask in ("microwave", "light switch"):
        for index, value in AT_GOAL[subtask].items():
            env._state[:, 1 + index] = value  # both envs: microwave and light switch done
    _, rewards, terminated, _, infos = env.step(np.zeros((2, 9)))
    assert rewards.tolist() == [2.0, 2.0] and infos["credited"].tolist() == [2, 2] and not terminated.any()
    env = KitchenVectorEnv(2, max_episode_steps=3)
    env.reset(seed=0)
    truncated = [env.step(np.zeros((2, 9)))[3].all() for _ in range(4)]
    assert truncated == [False, False, True, False]  # the 4th step is the first of the next episode
