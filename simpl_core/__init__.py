"""simpl_core: the training library of simpl_ros (skills, meta-RL, environments, datasets). Never imports ROS."""

__version__ = "0.1.0"
