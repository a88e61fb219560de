# Two commands on a fresh machine (see README): `make run` runs the main job, `make test` runs the tests.
# Both create .venv and install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATASET := datasets/maze-planner-v0

# DDS must never leave loopback on these machines; every run gets its own domain and log folder.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
ROS_RUN_ENV = ROS_DOMAIN_ID=$${ROS_DOMAIN_ID:-$$(( $$$$ % 200 + 20 ))} ROS_LOG_DIR=$${ROS_LOG_DIR:-$$(mktemp -d)}

.PHONY: help run skills meta test bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/.installed: requirements.txt setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed requirements-test.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

run: $(BIN)/.installed  ## main job: maze dataset (0.5 M transitions) + inspect PNG, then roll out the shipped skill prior
	$(BIN)/simpl data maze --transitions 500000 --out $(DATASET) --overwrite
	$(BIN)/simpl data inspect $(DATASET) --png $(DATASET).png
	$(BIN)/simpl eval-prior --bundle models/maze --episodes 100 --out runs/eval_prior_maze

skills: $(BIN)/.installed  ## retrain the maze skills (~9 min on 2 cores) and export them to models/maze
	test -d $(DATASET) || $(BIN)/simpl data maze --transitions 500000 --out $(DATASET)
	$(BIN)/simpl train-skills --config config/skills_maze.yaml --dataset $(DATASET) --out runs/skills_maze --resume
	$(BIN)/simpl export --skills runs/skills_maze --out models/maze
	$(BIN)/simpl eval-prior --bundle models/maze --episodes 100

meta: $(BIN)/.installed  ## meta-train SiMPL on maze-train-40 (~1 h on 2 cores) and add it to models/maze
	$(BIN)/simpl meta-train --config config/simpl_maze_cpu.yaml --bundle models/maze --tasks maze-train-40 --out runs/simpl_maze --resume
	$(BIN)/simpl export --meta runs/simpl_maze --out models/maze

test: $(BIN)/.installed-test  ## install everything and run the test suite
	$(ROS_RUN_ENV) $(BIN)/python -m pytest -q

bench: $(BIN)/.installed  ## env throughput (raw mj_step vs single vs batched) and skill-graph latency
	$(BIN)/simpl bench env --domain maze
	$(BIN)/simpl bench inference --bundle models/maze $$(test -d runs/skills_maze && echo --skills runs/skills_maze)

clean:  ## remove the venv and generated data
	rm -rf $(VENV) datasets runs
