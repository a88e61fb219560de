"""Cartesian teleoperation and the scripted teleoperator, in the real FrankaKitchen-v1 MuJoCo model (no rendering)."""

from __future__ import annotations

import gymnasium
import gymnasium_robotics
import mujoco
import numpy as np
import pytest

from simpl_core.teleop.cartesian import CartesianController, Twist, ee_pose, rotation_error
from simpl_core.teleop.scripted import SUBTASKS, ScriptedTeleoperator, TeleopConfig, TeleopNoise

gymnasium.register_envs(gymnasium_robotics)


def make_kitchen(tasks: list[str], max_steps: int = 300):
    env = gymnasium.make(
        "FrankaKitchen-v1", tasks_to_complete=tasks, max_episode_steps=max_steps, disable_env_checker=True
    )
    env.reset(seed=0)
    return env, env.unwrapped.model, env.unwrapped.data


@pytest.fixture(scope="module")
def kitchen():
    env, model, data = make_kitchen(["microwave"])
    yield env, model, data, CartesianController(model, data)
    env.close()


def hold_twist(env, controller, twist: Twist, steps: int) -> np.ndarray:
    """Resets the env, sends the same twist for `steps` steps, returns how far the end-effector moved."""
    env.reset(seed=0)
    start, _ = ee_pose(controller.model, controller.data)
    for _ in range(steps):
        env.step(controller.action(twist))
    return ee_pose(controller.model, controller.data)[0] - start


def run_script(subtasks: list[str], seed: int, max_steps: int) -> tuple[list[str], int]:
    env, model, data = make_kitchen(subtasks, max_steps)
    env.reset(seed=seed)
    controller = CartesianController(model, data)
    teleop = ScriptedTeleoperator(model, data, subtasks, np.random.default_rng(seed), TeleopNoise())
    completed, steps, finished = [], 0, False
    while not (finished or teleop.done):
        _, _, terminated, truncated, info = env.step(controller.action(teleop.twist()))
        completed, steps, finished = list(info["episode_task_completions"]), steps + 1, terminated or truncated
    env.close()
    return completed, steps


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(linear=np.zeros(2), angular=np.zeros(3)), "linear must have shape"),
        (dict(linear=np.zeros(3), angular=[0.0, np.nan, 0.0]), "angular must be finite"),
        (dict(linear=np.zeros(3), angular=np.zeros(3), gripper=1.5), "gripper must be"),
    ],
)
def test_twist_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Twist(**kwargs)


def test_controller_names_what_the_model_lacks():
    model = mujoco.MjModel.from_xml_string(
        "<mujoco><worldbody><body><joint/><geom size='0.1'/></body></worldbody></mujoco>"
    )
    with pytest.raises(ValueError, match="no joint named 'robot:panda0_joint1'"):
        CartesianController(model, mujoco.MjData(model))


def test_action_is_a_bounded_kitchen_action(kitchen):
    env, _, _, controller = kitchen
    env.reset(seed=0)
    for twist in (Twist.zero(), Twist(np.array([5.0, -5.0, 5.0]), np.array([10.0, 0.0, -10.0]), gripper=-1.0)):
        action = controller.action(twist)
        assert action.shape == (9,) and action.dtype == np.float32
        assert np.all(np.abs(action) <= 1.0)
        assert np.all(action[7:] == twist.gripper)


def test_upward_twist_raises_the_hand(kitchen):
    env, _, _, controller = kitchen
    moved = hold_twist(env, controller, Twist(np.array([0.0, 0.0, 0.2]), np.zeros(3)), steps=5)
    assert moved[2] > 0.03  # the servos cover about half of the commanded 8 cm
    assert np.linalg.norm(moved[:2]) < 0.01


def test_zero_twist_holds_the_hand_against_gravity(kitchen):
    env, _, _, controller = kitchen
    moved = hold_twist(env, controller, Twist.zero(), steps=20)
    assert np.linalg.norm(moved) < 0.01  # without the feed-forward the hand drops ~13 cm in 20 steps


def test_hand_lowers_straight_although_joint_2_starts_past_its_limit(kitchen):
    env, model, data, controller = kitchen
    env.reset(seed=0)
    joint_2_at_reset = data.qpos[1]
    _, rotation_at_reset = ee_pose(model, data)
    moved = hold_twist(env, controller, Twist(np.array([0.0, 0.0, -0.3]), np.zeros(3)), steps=20)
    assert moved[2] < -0.15
    assert np.linalg.norm(moved[:2]) < 0.02  # a plain solve drifts ~5 cm sideways, pushing joint 2 outward
    assert np.linalg.norm(rotation_error(ee_pose(model, data)[1], rotation_at_reset)) < 0.15
    assert data.qpos[1] > joint_2_at_reset


@pytest.mark.parametrize("subtask, max_steps", [("microwave", 80), ("light switch", 60)])
def test_script_completes_a_subtask_alone(subtask, max_steps):
    completed, steps = run_script([subtask], seed=1, max_steps=max_steps)
    assert completed == [subtask]
    assert steps < max_steps


def test_script_chains_two_subtasks():
    # The kettle moves the arm far from its reset posture; the knob after it must still be reachable.
    completed, _ = run_script(["kettle", "top burner"], seed=2, max_steps=200)
    assert completed == ["kettle", "top burner"]


def test_a_stalled_subtask_is_given_up_rather_than_hanging(kitchen):
    env, model, data, controller = kitchen
    env.reset(seed=0)
    teleop = ScriptedTeleoperator(
        model, data, ["hinge cabinet"], np.random.default_rng(0), TeleopNoise(), TeleopConfig(max_subtask_steps=10)
    )
    steps = 0
    while not teleop.done and steps < 100:
        env.step(controller.action(teleop.twist()))
        steps += 1
    assert teleop.done and teleop.abandoned == ["hinge cabinet"]
    assert steps <= 10 + 5 + 20  # the budget, then release and back off


def test_noise_free_script_does_not_depend_on_the_generator(kitchen):
    env, model, data, _ = kitchen
    env.reset(seed=0)
    twists = [
        ScriptedTeleoperator(
            model, data, ["slide cabinet"], np.random.default_rng(seed), TeleopNoise(scale=0.0)
        ).twist()
        for seed in (0, 1)
    ]
    np.testing.assert_array_equal(twists[0].linear, twists[1].linear)
    np.testing.assert_array_equal(twists[0].angular, twists[1].angular)


def test_unknown_subtask_is_rejected_with_the_valid_names(kitchen):
    _, model, data, _ = kitchen
    with pytest.raises(ValueError, match="valid subtasks: " + ", ".join(SUBTASKS)):
        ScriptedTeleoperator(model, data, ["microwave", "dishwasher"], np.random.default_rng(0), TeleopNoise())


def test_the_corrective_label_is_the_operators_clean_command_at_the_state_reached():
    """DART-style data (recipe v1): the stored label is what the operator, free of noise, commands at the state the
    noisy execution actually reached; the executed action is that command's noisy twin."""
    import copy

    from simpl_core.data.kitchen_demos import RECIPES, perturbed_start, teleop_step
    from simpl_core.envs.kitchen.env import KitchenEnv

    recipe, rng = RECIPES["v1"], np.random.default_rng(3)
    env = KitchenEnv()
    env.reset(seed=3, options={"state": perturbed_start(env, rng, recipe.start_noise)})
    operator = ScriptedTeleoperator(
        env.model, env.data, ["microwave"], rng, recipe.noise, TeleopConfig(watch_fingers=True)
    )
    controller = CartesianController(env.model, env.data)
    differing = 0
    for _ in range(40):
        twin = copy.deepcopy(operator)  # same script position, same MuJoCo state, no shared noise generator use
        expected = CartesianController(twin.scene.model, twin.scene.data).action(twin.command())
        label, executed = teleop_step(operator, controller)
        np.testing.assert_allclose(label, expected, atol=1e-6)
        differing += not np.allclose(label, executed)
        env.step(executed)
    assert differing >= 35  # the noise was executed at almost every step
    env.close()


def test_observable_targets_ignore_the_scene_when_the_phase_began(kitchen):
    """Recipe v2's phases aim from the scene as it is: against a phase start taken elsewhere (another arm pose, the
    door open), every observable target is unchanged, while the start-anchored target it replaces moves."""
    from simpl_core.teleop.scripted import SCRIPTS, Scene, release_and_back_off

    env, model, data, controller = kitchen
    env.reset(seed=0)
    now = Scene(model, data).snapshot()
    for _ in range(15):
        env.step(controller.action(Twist(np.array([0.3, 0.3, -0.3]), np.zeros(3))))
    data.qpos[model.jnt_qposadr[model.joint("microwave").id]] = -0.3
    mujoco.mj_forward(model, data)
    elsewhere = Scene(model, data).snapshot()
    phases = [
        phase
        for name in SUBTASKS
        for phase in SCRIPTS[name]() + release_and_back_off(name)
        if phase.observable_target is not None
    ]
    assert {phase.name for phase in phases} == {"pull", "lift", "carry", "set down", "release"}
    moved = 0
    for phase in phases:
        a, b = phase.observable_target(now, now), phase.observable_target(now, elsewhere)
        np.testing.assert_allclose(a.position, b.position)
        np.testing.assert_allclose(a.rotation, b.rotation)
        moved += not np.allclose(phase.target(now, now).position, phase.target(now, elsewhere).position)
    assert moved == len(phases)


def test_the_observable_operator_opens_both_doors_and_moves_the_kettle():
    """Recipe v2's operator, noise included, still completes the subtasks whose phases it aims differently."""
    import dataclasses

    from simpl_core.data.kitchen_demos import RECIPES, record_episode

    recipe = dataclasses.replace(RECIPES["v2"], subtasks_per_episode=len(SUBTASKS))
    completed = set()
    for index in range(2):
        _, attempted, done = record_episode(recipe, index)
        completed |= done
    assert {"microwave", "hinge cabinet", "kettle"} <= completed
