"""The skill selector's live parameters (in-process, real rclpy): a value is checked before it is set and applied
only after, so a refused set changes nothing, and a policy swap takes the bundle the check opened."""

import shutil

import pytest
import rclpy
from rclpy.parameter import Parameter

from simpl_core.paths import resource
from simpl_ros.serving.skill_selector_node import SkillSelectorNode


@pytest.fixture
def selector():
    rclpy.init(args=["--ros-args", "-p", f"bundle:={resource('models', 'maze')}"])
    node = SkillSelectorNode()
    yield node
    node.destroy_node()
    rclpy.shutdown()


def test_refused_values_change_nothing(selector):
    running = selector.bundle
    assert not selector.set_parameters([Parameter("sample", value="sometimes")])[0].successful
    assert selector.sample == "auto"
    result = selector.set_parameters([Parameter("bundle", value=str(resource("models", "kitchen")))])[0]
    assert not result.successful and "has dims" in result.reason
    assert selector.bundle is running
    both = selector.set_parameters_atomically(
        [Parameter("sample", value="never"), Parameter("bundle", value="/nowhere")]
    )
    assert not both.successful and selector.sample == "auto" and selector.bundle is running


def test_accepted_values_apply_after_the_check(selector, tmp_path):
    copy = shutil.copytree(resource("models", "maze"), tmp_path / "maze_copy")
    results = selector.set_parameters([Parameter("sample", value="never"), Parameter("bundle", value=str(copy))])
    assert all(result.successful for result in results)
    assert selector.sample == "never"
    assert selector.bundle.directory == copy and selector.validated == {}
