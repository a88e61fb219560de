"""Cartesian teleoperation of the FrankaKitchen-v1 arm: an end-effector twist becomes the env's 9-D action.

A twist (linear and angular velocity of the end-effector in the world frame, as in geometry_msgs/TwistStamped for
MoveIt Servo) is mapped to joint velocities by damped least squares on the MuJoCo Jacobian of the `end_effector` site.
Quirks of the kitchen env shape the rest (measured):
- the env turns an action `a` into the servo target `q_observed + 2 * a * dt`, so a zero action lets gravity pull
  the arm down (~6 mm per step); a gravity feed-forward term holds it up, and a too-fast command is slowed down
  without cutting into that term;
- joint 2 starts just beyond its lower limit, so a plain solve keeps pushing it outward and the arm cannot lower;
  a joint at a limit (the model's range or the env's target bounds) that is commanded outward leaves the solve;
- the soft servos cover only about half of each step's commanded motion, so a held twist moves the hand at about
  half its speed: close the loop on position, as a person (or the scripted teleoperator) does.
The controller only reads MuJoCo's `model` and `data`, so a gymnasium env (`env.unwrapped.model/.data`) and a ROS node
holding its own model of the arm can both use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

EE_SITE = "end_effector"
ARM_JOINTS = tuple(f"robot:panda0_joint{i}" for i in range(1, 8))
ARM_ACTUATORS = tuple(f"panda0_joint{i}" for i in range(1, 8))
FINGER_ACTUATORS = ("r_gripper_finger_joint", "l_gripper_finger_joint")

KITCHEN_FRAME_SKIP = 40  # physics steps per env step (FrankaRobot frame_skip): dt = 0.002 s * 40 = 0.08 s
KITCHEN_ACTION_SCALE = 2.0  # the env multiplies the clipped action by act_rng = 2, so a = 1 means 2 rad/s
# Arm posture right after a FrankaKitchen-v1 reset (KitchenEnv init_qpos); joint 2 is 6 mrad beyond its limit.
KITCHEN_REST_POSTURE = np.array([0.1484, -1.7685, 1.8439, -2.4769, 0.2603, 0.7125, 1.5952])
# The env also clips servo targets to these bounds (franka_config.xml pos_bound). Joint 6 >= 0 is tighter than the
# model's range [-1.66, 2.11]: a joint pushed below it just stops, so the solver has to know.
KITCHEN_TARGET_BOUNDS = np.array(
    [[-2.9, 2.9], [-1.8, 1.8], [-2.9, 2.9], [-3.1, 0.0], [-2.9, 2.9], [0.0, 3.8], [-2.9, 2.9]]
)


@dataclass(frozen=True)
class CartesianConfig:
    damping: float = 0.05
    """DLS damping: bounds joint speeds near singularities at a small tracking cost"""
    limit_margin: float = 0.03
    """rad; a joint this close to a limit may not be pushed further out"""
    limit_iterations: int = 4
    """re-solves after freezing joints (freezing one may push another outward)"""
    limit_restore_gain: float = 0.5
    """1/s; a frozen joint is eased back inside the margin at this rate"""
    nullspace_gain: float = 0.5
    """1/s; weak pull toward the rest posture, only where it leaves the EE alone"""


@dataclass
class Twist:
    """End-effector velocity command in the world frame, plus the gripper command (+1 open, -1 close)."""

    linear: np.ndarray
    """(3,) m/s"""
    angular: np.ndarray
    """(3,) rad/s"""
    gripper: float = 1.0

    def __post_init__(self):
        self.linear = _finite_vector3(self.linear, "linear")
        self.angular = _finite_vector3(self.angular, "angular")
        if not (np.isfinite(self.gripper) and -1.0 <= self.gripper <= 1.0):
            raise ValueError(
                f"Twist.gripper must be a finite number in [-1, 1] (+1 open, -1 close), got {self.gripper!r}"
            )
        self.gripper = float(self.gripper)

    @classmethod
    def zero(cls, gripper: float = 1.0) -> Twist:
        return cls(np.zeros(3), np.zeros(3), gripper)


def _finite_vector3(value, name: str) -> np.ndarray:
    vector = np.asarray(value, dtype=float)
    if vector.shape != (3,):
        raise ValueError(f"Twist.{name} must have shape (3,), got {vector.shape}")
    if not np.all(np.isfinite(vector)):
        raise ValueError(f"Twist.{name} must be finite, got {vector}")
    return vector


def name_to_id(model: mujoco.MjModel, kind: mujoco.mjtObj, name: str) -> int:
    """MuJoCo id of a named joint/actuator/site/body, with an error that says what is missing."""
    index = mujoco.mj_name2id(model, kind, name)
    if index < 0:
        raise ValueError(
            f"the MuJoCo model has no {kind.name.removeprefix('mjOBJ_').lower()} named {name!r}; "
            f"is this the FrankaKitchen-v1 model?"
        )
    return index


def ee_pose(model: mujoco.MjModel, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
    """World position (3,) and rotation matrix (3, 3) of the `end_effector` site, as of the last kinematics pass."""
    site = name_to_id(model, mujoco.mjtObj.mjOBJ_SITE, EE_SITE)
    return data.site_xpos[site].copy(), data.site_xmat[site].reshape(3, 3).copy()


def rotation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """World-frame rotation vector (axis * angle, angle <= pi) that turns rotation `current` into `target`."""
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, (target @ current.T).ravel())
    if quat[0] < 0:  # q and -q are the same rotation; take the short way round
        quat = -quat
    vector = np.empty(3)
    mujoco.mju_quat2Vel(vector, quat, 1.0)
    return vector


def damped_least_squares(
    jacobian: np.ndarray, task_velocity: np.ndarray, damping: float, posture_velocity: np.ndarray
) -> np.ndarray:
    """Joint velocities tracking `task_velocity`, plus `posture_velocity` projected into the Jacobian's nullspace."""
    gram = jacobian @ jacobian.T + damping**2 * np.eye(len(jacobian))
    pseudo_inverse = np.linalg.solve(gram, jacobian).T  # J^T (J J^T + damping^2 I)^-1, the gram matrix is symmetric
    nullspace = np.eye(jacobian.shape[1]) - pseudo_inverse @ jacobian
    return pseudo_inverse @ task_velocity + nullspace @ posture_velocity


def fitting_scale(offset: np.ndarray, motion: np.ndarray) -> float:
    """Largest s in [0, 1] with offset + s * motion inside [-1, 1]: slows the motion uniformly (keeping its
    direction) without cutting into `offset`, the gravity hold, which would let the arm sag while it moves fast."""
    room = np.where(motion > 0, 1.0 - offset, -1.0 - offset)
    moving = motion != 0
    return float(min(1.0, np.min(room[moving] / motion[moving], initial=1.0)))


class CartesianController:
    """Turns a world-frame end-effector Twist into a FrankaKitchen-v1 action (9,), float32 in [-1, 1]."""

    def __init__(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        config: CartesianConfig = CartesianConfig(),
        frame_skip: int = KITCHEN_FRAME_SKIP,
        rest_posture: np.ndarray = KITCHEN_REST_POSTURE,
        target_bounds: np.ndarray = KITCHEN_TARGET_BOUNDS,
    ):
        self.model, self.data, self.config = model, data, config
        joints = [name_to_id(model, mujoco.mjtObj.mjOBJ_JOINT, name) for name in ARM_JOINTS]
        self._qpos_index = model.jnt_qposadr[joints]
        self._dof_index = model.jnt_dofadr[joints]
        self._lower = np.maximum(model.jnt_range[joints, 0], target_bounds[:, 0])
        self._upper = np.minimum(model.jnt_range[joints, 1], target_bounds[:, 1])
        self._arm_actuators = [name_to_id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, name) for name in ARM_ACTUATORS]
        self._finger_actuators = [name_to_id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, name) for name in FINGER_ACTUATORS]
        self._site = name_to_id(model, mujoco.mjtObj.mjOBJ_SITE, EE_SITE)
        # The rest posture is kept inside the margins, so pulling toward it never freezes a joint (reset j2 is out).
        self._rest_posture = np.clip(rest_posture, self._lower + config.limit_margin, self._upper - config.limit_margin)
        # A position servo with gain kp holds a torque tau when its target leads q by tau / kp, and the env sets the
        # target to q + scale * a * dt: so a = tau / (kp * scale * dt) cancels gravity (and Coriolis) torques tau.
        kp = model.actuator_gainprm[self._arm_actuators, 0]
        control_dt = model.opt.timestep * frame_skip
        self._feedforward_per_torque = 1.0 / (kp * KITCHEN_ACTION_SCALE * control_dt)
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self._bias = np.zeros(model.nv)

    def action(self, twist: Twist) -> np.ndarray:
        self._update_kinematics()
        arm_q = self.data.qpos[self._qpos_index]
        arm_velocity = self._joint_velocities(np.concatenate([twist.linear, twist.angular]), arm_q)
        holding = np.clip(self._bias[self._dof_index] * self._feedforward_per_torque, -1.0, 1.0)
        motion = arm_velocity / KITCHEN_ACTION_SCALE
        arm = holding + fitting_scale(holding, motion) * motion
        action = np.zeros(self.model.nu, dtype=np.float32)
        action[self._arm_actuators] = arm
        action[self._finger_actuators] = twist.gripper
        return action

    def _update_kinematics(self) -> None:
        """Jacobian and bias torques (gravity + Coriolis, = data.qfrc_bias) at the current qpos/qvel."""
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
        mujoco.mj_comVel(self.model, self.data)
        mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self._site)
        mujoco.mj_rne(self.model, self.data, 0, self._bias)

    def _joint_velocities(self, task_velocity: np.ndarray, arm_q: np.ndarray) -> np.ndarray:
        """DLS solve that freezes joints pushed outward at a limit and eases them back inside instead."""
        config = self.config
        jacobian = np.vstack([self._jacp, self._jacr])[:, self._dof_index]
        near_lower = arm_q < self._lower + config.limit_margin
        near_upper = arm_q > self._upper - config.limit_margin
        posture_velocity = config.nullspace_gain * (self._rest_posture - arm_q)
        frozen = np.zeros(len(arm_q), dtype=bool)
        for _ in range(config.limit_iterations):
            free = ~frozen
            velocity = damped_least_squares(jacobian * free, task_velocity, config.damping, posture_velocity * free)
            outward = free & ((near_lower & (velocity < 0)) | (near_upper & (velocity > 0)))
            if not outward.any():
                break
            frozen |= outward
        inside = np.clip(arm_q, self._lower + config.limit_margin, self._upper - config.limit_margin)
        velocity[frozen] = config.limit_restore_gain * (inside - arm_q)[frozen]
        return velocity
