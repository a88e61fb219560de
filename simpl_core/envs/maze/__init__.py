"""SiMPL's 20x20 point-mass maze in MuJoCo."""
