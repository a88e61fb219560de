"""Scripted teleoperator for the 7 FrankaKitchen-v1 subtasks: a stand-in for a person at a Cartesian teleop device.

Like a person, it watches the scene (object sites and joint angles in MuJoCo's `data`) and only commands end-effector
twists; CartesianController turns them into env actions, the same path a keyboard or a ROS TwistStamped takes.
Each subtask is a script of phases (approach, grasp, pull / push / turn / carry, then release and back off). A phase
is a target pose recomputed from the scene every step and followed by a P-controller; it ends when its goal is met or
after a step cap. The recipes and numbers come from measurements of FrankaKitchen-v1.
Noise (Gaussian twist noise every step, optionally autocorrelated, and random waypoint offsets every episode) makes
demonstrations vary like human play data; `command()` is the clean twist at the current state, `twist()` the noisy
one the operator sends; `simpl bench teleop` (simpl_core/bench/teleop.py) measures how often the scripts succeed.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import mujoco
import numpy as np

from simpl_core.envs.kitchen.task import SUBTASKS
from simpl_core.teleop.cartesian import Twist, ee_pose, name_to_id, rotation_error

OPEN, CLOSE = 1.0, -1.0

X_AXIS, Y_AXIS, Z_AXIS = np.eye(3)
# Gripper horizontal, pointing into the kitchen: approach axis (site z) = +y, finger axis (site y) = +x, site x = +z.
GRIPPER_FORWARD = np.column_stack([Z_AXIS, X_AXIS, Y_AXIS])
HOME_POSITION = np.array([-0.43, 0.12, 2.02])  # the end-effector at reset
# Where the kettle is set down: 17 cm short of the env's goal on burner 4, which the arm (almost straight there)
# could not reach holding the kettle from above; the env counts the kettle done from about y = 0.46.
KETTLE_PLACE = np.array([-0.23, 0.58, 1.62])
KETTLE_REST = np.array([-0.269, 0.350, 1.619])  # the kettle's position at reset
KETTLE_GRIP = np.array([0.0, 0.0, 0.28])  # hand minus kettle position once gripped (handle site 0.26 up, +2 cm)


@dataclass(frozen=True)
class TeleopConfig:
    linear_gain: float = 15.0
    """1/s; position error -> linear velocity"""
    max_linear_speed: float = 0.6
    """m/s; at 1 m/s the env's soft servos couple the joints and stretched-out arm poses (kettle carry, back-off) stall
    short of the target"""
    angular_gain: float = 8.0
    """1/s; orientation error -> angular velocity (the arm covers ~half per step)"""
    max_angular_speed: float = 3.0
    """rad/s"""
    max_subtask_steps: int = 200
    """a subtask still unfinished after this many steps is given up (release, go on)"""
    watch_fingers: bool = False
    """end "close" when the fingers have stopped closing and "release" when they are open (what the observation shows),
    instead of after a fixed step count"""
    observable_targets: bool = False
    """door pulls, kettle carry and release aim at functions of the scene as it is now, never of the scene when the
    phase began (which no policy sees)"""


@dataclass(frozen=True)
class TeleopNoise:
    scale: float = 1.0
    """multiplies every term below; 0 gives the deterministic script"""
    linear_std: float = 0.05
    """m/s; Gaussian noise on the commanded linear velocity, every step"""
    angular_std: float = 0.1
    """rad/s; same for the angular velocity"""
    waypoint_std: float = 0.005
    """m; offset of every waypoint, drawn once per episode (clipped at 2 std)"""
    correlation: float = 0.0
    """per-step autocorrelation of the twist noise (0: white); correlated noise makes the hand actually drift off its
    path, so the clean commands show how to come back"""


class Pose(NamedTuple):
    position: np.ndarray  # (3,) world frame
    rotation: np.ndarray  # (3, 3)


def rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation matrix of `angle` radians about the world `axis`."""
    quat, matrix = np.empty(4), np.empty(9)
    mujoco.mju_axisAngle2Quat(quat, axis, angle)
    mujoco.mju_quat2Mat(matrix, quat)
    return matrix.reshape(3, 3)


class Scene:
    """What the teleoperator watches: object sites, joint values and hinge axes, looked up by name."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData):
        self.model, self.data = model, data

    def snapshot(self) -> Scene:
        """A frozen copy, so a phase can compare the scene with how it was when the phase began."""
        return Scene(self.model, copy.copy(self.data))

    def site(self, name: str) -> np.ndarray:
        return self.data.site_xpos[name_to_id(self.model, mujoco.mjtObj.mjOBJ_SITE, name)].copy()

    def joint(self, name: str) -> np.ndarray:
        """The joint's qpos entries: one for a hinge or slide, seven (position, quaternion) for a free joint."""
        joint = name_to_id(self.model, mujoco.mjtObj.mjOBJ_JOINT, name)
        start = self.model.jnt_qposadr[joint]
        size = {mujoco.mjtJoint.mjJNT_FREE: 7, mujoco.mjtJoint.mjJNT_BALL: 4}.get(self.model.jnt_type[joint], 1)
        return self.data.qpos[start : start + size].copy()

    def angle(self, name: str) -> float:
        return float(self.joint(name)[0])

    def hinge_point(self, name: str) -> np.ndarray:
        """A point on the joint's axis, in world coordinates."""
        return self.data.xanchor[name_to_id(self.model, mujoco.mjtObj.mjOBJ_JOINT, name)].copy()

    def end_effector(self) -> Pose:
        return Pose(*ee_pose(self.model, self.data))


class TrackingError(NamedTuple):
    position: float  # m, from the end-effector to the phase's target
    rotation: float  # rad


# A phase aims the end-effector at `target(scene, start)`, `start` being the scene when the phase began, with the
# gripper at `gripper`; it ends when `until(scene, tracking_error, steps)` holds or after `max_steps`.
# `observable_target`, where given, is the same aim computed from the scene as it is now only
# (TeleopConfig.observable_targets).
Target = Callable[[Scene, Scene], Pose]
Until = Callable[[Scene, TrackingError, int], bool]


@dataclass(frozen=True)
class Phase:
    name: str
    target: Target
    gripper: float
    until: Until
    max_steps: int
    observable_target: Target | None = None


def reached(position_tolerance: float, rotation_tolerance: float = 0.1) -> Until:
    return lambda scene, error, steps: error.position < position_tolerance and error.rotation < rotation_tolerance


def after(count: int) -> Until:
    return lambda scene, error, steps: steps >= count


FINGER_JOINTS = ("robot:panda0_finger_joint1", "robot:panda0_finger_joint2")
FINGERS_OPEN = 0.035  # m per finger; fully open is 0.04
FINGERS_STOPPED = 0.02  # m/s; a closing finger moves ~0.1 m/s until it meets the part


def fingers_closed(scene: Scene, error: TrackingError, steps: int) -> bool:
    """The fingers have closed on the part (or on nothing) and stopped moving."""
    speeds = [
        abs(scene.data.qvel[scene.model.jnt_dofadr[name_to_id(scene.model, mujoco.mjtObj.mjOBJ_JOINT, j)]])
        for j in FINGER_JOINTS
    ]
    return steps >= 2 and max(speeds) < FINGERS_STOPPED and max(map(scene.angle, FINGER_JOINTS)) < FINGERS_OPEN


def fingers_open(scene: Scene, error: TrackingError, steps: int) -> bool:
    return min(map(scene.angle, FINGER_JOINTS)) >= FINGERS_OPEN


def joint_past(joint: str, value: float) -> Until:
    """Done once the joint has moved past `value`, coming from its reset value near 0."""
    return lambda scene, error, steps: np.sign(value) * (scene.angle(joint) - value) >= 0


def at_site(site: str, offset: Sequence[float], orientation: np.ndarray) -> Target:
    """Next to a site, following it if it moves (a drawer handle being pulled)."""
    return lambda scene, start: Pose(scene.site(site) + offset, orientation)


def past_start_site(site: str, offset: Sequence[float], orientation: np.ndarray) -> Target:
    """Next to where the site was when the phase began: a push goes straight on while the part swings away."""
    return lambda scene, start: Pose(start.site(site) + offset, orientation)


def moved_by(displacement: Sequence[float]) -> Target:
    """Where the hand was when the phase began, shifted by `displacement` (zero: hold still)."""

    def target(scene: Scene, start: Scene) -> Pose:
        hand = start.end_effector()
        return Pose(hand.position + displacement, hand.rotation)

    return target


def held() -> Target:
    """Where the hand is now: hold still, whatever it drifted to."""
    return lambda scene, start: scene.end_effector()


def backed_off(distance: float) -> Target:
    """Straight back along the gripper's approach axis, keeping the orientation (a turned knob stays turned)."""

    def target(scene: Scene, start: Scene) -> Pose:
        hand = start.end_effector()
        return Pose(hand.position - distance * hand.rotation[:, 2], hand.rotation)

    return target


def swung(hinge_joint: str, lead: float, turn_hand: bool) -> Target:
    """Pulls a door open along its arc: the grasping hand, carried round the hinge to where it would be if the door
    stood `lead` radians further open than it does now. Following the hand rather than the handle site leaves
    alone the offset at which the fingers happen to hold the handle. `turn_hand` also yaws the hand as much as the
    door has opened (no lead: yawing ahead of the door let the hinge-cabinet pull stall short of the goal)."""

    def target(scene: Scene, start: Scene) -> Pose:
        hand, hinge = start.end_effector(), start.hinge_point(hinge_joint)
        opened = scene.angle(hinge_joint) - start.angle(hinge_joint)
        position = hinge + rotation(Z_AXIS, opened + lead) @ (hand.position - hinge)
        return Pose(position, rotation(Z_AXIS, opened) @ hand.rotation if turn_hand else hand.rotation)

    return target


def swung_with_door(
    hinge_joint: str, handle: str, lead: float, grasp_orientation: np.ndarray, turn_hand: bool
) -> Target:
    """`swung` from what the scene shows now: the handle site carried `lead` radians further round the hinge than
    the door stands, in the orientation the grasp aimed at (yawed by the door's angle with `turn_hand`). Tied to the
    door, not the hand: a hand that slips off the handle stops instead of running on."""

    def target(scene: Scene, start: Scene) -> Pose:
        hinge = scene.hinge_point(hinge_joint)
        yaw = scene.angle(hinge_joint) if turn_hand else 0.0
        return Pose(
            hinge + rotation(Z_AXIS, lead) @ (scene.site(handle) - hinge), rotation(Z_AXIS, yaw) @ grasp_orientation
        )

    return target


def grasp(
    site: str,
    orientation: np.ndarray,
    offset: Sequence[float] = (0.0, 0.0, 0.0),
    stand_off: float = 0.15,
    close_steps: int = 4,
) -> list[Phase]:
    """Line up `stand_off` metres in front of the part, move onto it with the gripper open, then close (for
    `close_steps`, or until the fingers stop with TeleopConfig.watch_fingers)."""
    grasp_at = at_site(site, offset, orientation)
    pre_grasp = at_site(site, np.asarray(offset) - stand_off * orientation[:, 2], orientation)
    return [
        Phase("pre-grasp", pre_grasp, OPEN, reached(0.02), 40),
        Phase("grasp", grasp_at, OPEN, reached(0.01), 25),
        Phase("close", grasp_at, CLOSE, after(close_steps), close_steps),
    ]


def go_home() -> Phase:
    """Back to the reset pose, which brings the arm back to its reset posture (the wrist unwound, joints 2 and 6
    off their limits) from wherever the last subtask left it."""
    return Phase("home", lambda scene, start: Pose(HOME_POSITION, GRIPPER_FORWARD), OPEN, reached(0.03), 40)


def release_and_back_off(subtask: str) -> list[Phase]:
    """Every subtask ends here, done or given up: open the gripper, then back off before the next one. The kettle,
    gripped from above, leaves joint 6 at its limit for the knobs next to it unless the arm goes home."""
    back_off = [
        Phase("release", moved_by((0.0, 0.0, 0.0)), OPEN, after(5), 5, observable_target=held()),
        Phase("back off", backed_off(0.12), OPEN, reached(0.03), 20),
    ]
    return back_off + [go_home()] if subtask == "kettle" else back_off


def microwave() -> list[Phase]:
    # Face the door (yawed 0.3 rad) and keep that yaw while pulling: turning with the door lost the grasp.
    facing_door = rotation(Z_AXIS, 0.3) @ GRIPPER_FORWARD
    # Start from home: reaching down to the handle from wherever the last subtask ended left joints 2 and 6 at
    # their limits.
    return (
        [go_home()]
        + grasp("microhandle_site", facing_door)
        + [
            # Open past -0.6 rad (done at -0.45): the door relaxes a little once let go.
            Phase(
                "pull",
                swung("microwave", -0.15, turn_hand=False),
                CLOSE,
                joint_past("microwave", -0.65),
                40,
                observable_target=swung_with_door("microwave", "microhandle_site", -0.15, facing_door, turn_hand=False),
            )
        ]
    )


def kettle() -> list[Phase]:
    # Grip the handle (a bar along x) from above, the fingers closing along y. A sideways grasp
    # (fingers closing vertically) also completes, but it winds the wrist up (joint 5 near -2, joint 7 near its
    # limit) and the knob or door that comes next can no longer be reached.
    from_above = rotation(Z_AXIS, -np.pi / 2) @ rotation(X_AXIS, -np.pi / 2) @ GRIPPER_FORWARD

    def hand_over_place(clearance: float) -> Target:
        """The hand where it holds the kettle, once the kettle stands `clearance` above KETTLE_PLACE. A fixed spot,
        not the kettle: it swings in the grip, and chasing it makes the hand run ahead."""

        def target(scene: Scene, start: Scene) -> Pose:
            grip = start.end_effector().position - start.joint("kettle")[:3]
            return Pose(KETTLE_PLACE + grip + clearance * Z_AXIS, from_above)

        return target

    def gripped_at(kettle_position: np.ndarray) -> Target:
        """The hand where it holds the kettle standing at `kettle_position`, with the nominal grip: fixed points,
        the same whatever the scene was when the phase began."""
        return lambda scene, start: Pose(kettle_position + KETTLE_GRIP, from_above)

    # Come down from 25 cm above the handle: a lower approach from the microwave side knocked the kettle over.
    return grasp("kettle_site", from_above, offset=(0.0, 0.0, 0.02), stand_off=0.25, close_steps=5) + [
        Phase(
            "lift",
            moved_by(0.05 * Z_AXIS),
            CLOSE,
            reached(0.015),
            15,
            observable_target=gripped_at(KETTLE_REST + 0.05 * Z_AXIS),
        ),
        Phase(
            "carry",
            hand_over_place(0.05),
            CLOSE,
            reached(0.04),
            40,
            observable_target=gripped_at(KETTLE_PLACE + 0.05 * Z_AXIS),
        ),
        Phase(
            "set down",
            hand_over_place(0.005),
            CLOSE,
            reached(0.02),
            15,
            observable_target=gripped_at(KETTLE_PLACE + 0.005 * Z_AXIS),
        ),
    ]


def burner(knob: str) -> Callable[[], list[Phase]]:
    """Grip the knob lever 3.5 cm short of its site (closer, the fingers hit the knob's base) and roll about +y."""
    site, joint = f"knob{knob}_site", f"knob_Joint_{knob}"

    def turned(scene: Scene, start: Scene) -> Pose:
        # Keep rolling about +y world (= negative knob angle), 0.3 rad ahead of the hand itself rather than of the
        # knob: the lever cams the fingers open, and the knob turns only about half as far as the hand.
        return Pose(start.end_effector().position, rotation(Y_AXIS, 0.3) @ scene.end_effector().rotation)

    def script() -> list[Phase]:
        return grasp(site, GRIPPER_FORWARD, offset=(0.0, -0.035, 0.0), stand_off=0.09) + [
            Phase("turn", turned, CLOSE, joint_past(joint, -0.75), 25)
        ]  # done at about -0.6

    return script


def light_switch() -> list[Phase]:
    # Closed fingers push the lever tip leftwards (-x), level with the site: any higher, the pushed lever lifts
    # them and they slip over it (1 cm: 1 in 20 noisy episodes, 2 cm: 4 in 20). They brush the knob-2 lever
    # below, turning it by 0.02 rad at most.
    offset = np.array([0.0, -0.02, 0.0])
    return [
        Phase("pre-push", at_site("light_site", offset + (0.08, -0.1, 0.0), GRIPPER_FORWARD), CLOSE, reached(0.02), 40),
        Phase("beside", at_site("light_site", offset + (0.08, 0.0, 0.0), GRIPPER_FORWARD), CLOSE, reached(0.01), 25),
        # Straight on in the world: following the tip, which swings toward the wall, slid the fingers over it.
        Phase(
            "push",
            past_start_site("light_site", offset + (-0.10, 0.0, 0.0), GRIPPER_FORWARD),
            CLOSE,
            joint_past("light_switch", -0.5),
            20,
        ),
    ]  # done at -0.4


def slide_cabinet() -> list[Phase]:
    return grasp("slide_site", GRIPPER_FORWARD) + [
        Phase(
            "pull",
            at_site("slide_site", (0.08, 0.0, 0.0), GRIPPER_FORWARD),
            CLOSE,
            joint_past("slide_cabinet", 0.2),
            20,
        )
    ]  # done at 0.07


def hinge_cabinet() -> list[Phase]:
    # The env's goal is the RIGHT door; the gripper yaw follows the door, which kept the grasp all the way.
    return grasp("hinge_site2", GRIPPER_FORWARD) + [
        Phase(
            "pull",
            swung("right_hinge_cabinet", 0.15, turn_hand=True),
            CLOSE,
            joint_past("right_hinge_cabinet", 1.25),
            80,  # done at about 1.15
            observable_target=swung_with_door(
                "right_hinge_cabinet", "hinge_site2", 0.15, GRIPPER_FORWARD, turn_hand=True
            ),
        )
    ]


SCRIPTS: dict[str, Callable[[], list[Phase]]] = {
    "bottom burner": burner("2"),
    "top burner": burner("4"),
    "light switch": light_switch,
    "slide cabinet": slide_cabinet,
    "hinge cabinet": hinge_cabinet,
    "microwave": microwave,
    "kettle": kettle,
}


def clip_norm(vector: np.ndarray, limit: float) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return vector if norm <= limit else vector * (limit / norm)


class ScriptedTeleoperator:
    """Performs `subtasks` in order in one episode, one Twist per env step; gives up on a subtask that stalls."""

    def __init__(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        subtasks: Sequence[str],
        rng: np.random.Generator,
        noise: TeleopNoise = TeleopNoise(),
        config: TeleopConfig = TeleopConfig(),
    ):
        unknown = [name for name in subtasks if name not in SCRIPTS]
        if unknown:
            raise ValueError(f"unknown subtask(s) {unknown}; valid subtasks: {', '.join(SUBTASKS)}")
        self.subtasks, self.rng, self.noise, self.config = tuple(subtasks), rng, noise, config
        self.scene = Scene(model, data)
        work = [SCRIPTS[name]() for name in self.subtasks]
        self._release_at = [len(phases) for phases in work]  # where release and back-off begin in each script
        self._scripts = [
            [self._observable(phase) for phase in phases + release_and_back_off(name)]
            for name, phases in zip(self.subtasks, work)
        ]
        # Per-episode waypoint offsets, one per phase: a person never aims at exactly the same spot twice.
        waypoint_std = noise.scale * noise.waypoint_std
        self._offsets = [
            np.clip(rng.normal(0.0, waypoint_std, (len(script), 3)), -2 * waypoint_std, 2 * waypoint_std)
            for script in self._scripts
        ]
        self._subtask, self._phase = 0, 0
        self._phase_steps, self._subtask_steps = 0, 0
        self._start: Scene | None = None
        self._linear_noise, self._angular_noise = np.zeros(3), np.zeros(3)
        self.abandoned: list[str] = []

    def _observable(self, phase: Phase) -> Phase:
        """With watch_fingers, gripper phases end on what the fingers do rather than on a step count; with
        observable_targets, phases that have one aim at their observable target."""
        ends = {"close": fingers_closed, "release": fingers_open}
        if self.config.watch_fingers and phase.name in ends:
            phase = dataclasses.replace(phase, until=ends[phase.name], max_steps=phase.max_steps + 6)
        if self.config.observable_targets and phase.observable_target is not None:
            phase = dataclasses.replace(phase, target=phase.observable_target)
        return phase

    @property
    def done(self) -> bool:
        return self._subtask >= len(self.subtasks)

    @property
    def current_subtask(self) -> str | None:
        return None if self.done else self.subtasks[self._subtask]

    @property
    def current_phase(self) -> str | None:
        return None if self.done else self._scripts[self._subtask][self._phase].name

    def twist(self) -> Twist:
        """The operator's command with its noise: what it sends."""
        return self.command() if self.done else self.perturb(self.command())

    def command(self) -> Twist:
        """The clean command at the current state (advances the script): what the operator means to send, and the
        corrective label of DART-style data (simpl_core/data/kitchen_demos.py)."""
        while not self.done:
            phase = self._scripts[self._subtask][self._phase]
            if self._start is None:
                self._start = self.scene.snapshot()
            hand = self.scene.end_effector()
            target = phase.target(self.scene, self._start)
            target = Pose(target.position + self._offsets[self._subtask][self._phase], target.rotation)
            error = TrackingError(
                float(np.linalg.norm(target.position - hand.position)),
                float(np.linalg.norm(rotation_error(target.rotation, hand.rotation))),
            )
            if phase.until(self.scene, error, self._phase_steps) or self._phase_steps >= phase.max_steps:
                self._next_phase()
            elif self._stalled():
                self._give_up()
            else:
                self._phase_steps += 1
                self._subtask_steps += 1
                return self._towards(target, hand, phase.gripper)
        return Twist.zero(gripper=OPEN)

    def _towards(self, target: Pose, hand: Pose, gripper: float) -> Twist:
        config = self.config
        linear = clip_norm(config.linear_gain * (target.position - hand.position), config.max_linear_speed)
        angular = clip_norm(
            config.angular_gain * rotation_error(target.rotation, hand.rotation), config.max_angular_speed
        )
        return Twist(linear, angular, gripper)

    def perturb(self, twist: Twist) -> Twist:
        """`twist` plus the operator's noise (autocorrelated by TeleopNoise.correlation)."""
        noise, keep = self.noise, self.noise.correlation
        fresh = np.sqrt(1.0 - keep**2)
        self._linear_noise = keep * self._linear_noise + fresh * self.rng.normal(0.0, noise.scale * noise.linear_std, 3)
        self._angular_noise = keep * self._angular_noise + fresh * self.rng.normal(
            0.0, noise.scale * noise.angular_std, 3
        )
        return Twist(twist.linear + self._linear_noise, twist.angular + self._angular_noise, twist.gripper)

    def _stalled(self) -> bool:
        """Over the subtask's step budget while still working on it (release and back-off always run)."""
        working = self._phase < self._release_at[self._subtask]
        return working and self._subtask_steps >= self.config.max_subtask_steps

    def _give_up(self) -> None:
        self.abandoned.append(self.subtasks[self._subtask])
        self._phase = self._release_at[self._subtask]
        self._start_phase()

    def _next_phase(self) -> None:
        self._phase += 1
        if self._phase == len(self._scripts[self._subtask]):
            self._subtask, self._phase, self._subtask_steps = self._subtask + 1, 0, 0
        self._start_phase()

    def _start_phase(self) -> None:
        self._phase_steps, self._start = 0, None
