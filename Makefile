# Two commands on a fresh machine (see README): `make run` runs the main job, `make test` runs the tests.
# Both create .venv and install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATASET := datasets/maze-planner-v0

# DDS must never leave loopback on these machines; every run gets its own domain and log folder.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
ROS_RUN_ENV = ROS_DOMAIN_ID=$${ROS_DOMAIN_ID:-$$(( $$$$ % 200 + 20 ))} ROS_LOG_DIR=$${ROS_LOG_DIR:-$$(mktemp -d)}

.PHONY: help run maze-data skills meta baselines compare studies ros kitchen-data kitchen-skills kitchen-meta \
	kitchen-skills-v1 kitchen-skills-v2 kitchen-skills-ladder \
	kitchen-baselines kitchen-compare demos test bench clean

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/.installed: requirements.txt setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed requirements-test.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

KITCHEN_TASK ?= kitchen-target-10:0
LOCKSTEP ?= true
RTF ?= 1
run: $(BIN)/.installed  ## main job: the kitchen_sim ROS 2 graph adapts on-robot to an unseen target sequence (lock-step sim; LOCKSTEP=false RTF=1 runs in real time)
	$(ROS_RUN_ENV) $(BIN)/simpl-ros launch kitchen_sim task:=$(KITCHEN_TASK) adapt:=true lockstep:=$(LOCKSTEP) rtf:=$(RTF) \
	  adapt_dir:=runs/kitchen_sim_$$(date +%Y%m%d_%H%M%S)

maze-data: $(BIN)/.installed  ## maze dataset (0.5 M transitions) + inspect PNG, then roll out the shipped skill prior
	$(BIN)/simpl data maze --transitions 500000 --out $(DATASET) --overwrite
	$(BIN)/simpl data inspect $(DATASET) --png $(DATASET).png
	$(BIN)/simpl skills eval-prior --bundle models/maze --episodes 100 --out runs/eval_prior_maze

skills: $(BIN)/.installed  ## retrain the maze skills (~9 min on 2 cores) and export them to models/maze
	test -d $(DATASET) || $(BIN)/simpl data maze --transitions 500000 --out $(DATASET)
	$(BIN)/simpl skills train --config config/skills_maze.yaml --dataset $(DATASET) --out runs/skills_maze --resume
	$(BIN)/simpl skills export runs/skills_maze --out models/maze
	$(BIN)/simpl skills eval-prior --bundle models/maze --episodes 100

meta: $(BIN)/.installed  ## meta-train SiMPL on maze-train-40 (~75 min on 2 cores) and add it to models/maze
	$(BIN)/simpl meta train --config config/simpl_maze_cpu.yaml --bundle models/maze --tasks maze-train-40 --out runs/simpl_maze --resume
	$(BIN)/simpl meta export runs/simpl_maze --out models/maze

baselines: $(BIN)/.installed  ## meta-train the PEARL (~20 min) and MTRL (~75 min) baselines on maze-train-40
	$(BIN)/simpl meta train --config config/pearl_maze_cpu.yaml --bundle models/maze --tasks maze-train-40 --out runs/pearl_maze --resume
	$(BIN)/simpl meta train --config config/mtrl_maze_cpu.yaml --bundle models/maze --tasks maze-train-40 --out runs/mtrl_maze --resume

TASK ?= maze-target-10:0
COMPARE_METHODS ?= simpl,spirl,mtrl,sac,pearl,pearl-ft
COMPARE_EPISODES ?= 25
compare: $(BIN)/.installed  ## target-task learning curves of SiMPL and the baselines (needs `make baselines`)
	$(BIN)/simpl eval sample-efficiency --domain maze --methods $(COMPARE_METHODS) --episodes $(COMPARE_EPISODES) --seeds 3 --out runs/bench_maze

studies: $(BIN)/.installed  ## SiMPL meta-trained on 10 and 20 tasks and on the top of the maze, adapted to target goals
	for n in 10 20; do $(BIN)/simpl meta train --config config/simpl_maze_cpu.yaml --bundle models/maze --tasks maze-train-$$n --out runs/simpl_maze_$${n}t --resume \
	  && $(BIN)/simpl eval sample-efficiency --methods simpl --simpl-run runs/simpl_maze_$${n}t --episodes $(COMPARE_EPISODES) --seeds 3 --out runs/bench_maze_$${n}t || exit 1; done
	$(BIN)/simpl meta train --config config/simpl_maze_cpu.yaml --bundle models/maze --tasks maze-narrow-train --out runs/simpl_maze_narrow --resume
	for half in top bottom; do $(BIN)/simpl eval sample-efficiency --methods simpl,spirl --simpl-run runs/simpl_maze_narrow --tasks maze-narrow-$$half --episodes $(COMPARE_EPISODES) --seeds 3 --out runs/bench_maze_narrow_$$half || exit 1; done

ros: $(BIN)/.installed  ## the maze_sim ROS 2 graph adapting on-robot to a target goal (~20 min at real time)
	$(ROS_RUN_ENV) $(BIN)/simpl-ros launch maze_sim task:=$(TASK) adapt:=true

KITCHEN_DATASET := datasets/kitchen-teleop-v0
kitchen-data: $(BIN)/.installed  ## 600 scripted-teleop kitchen episodes (random subtask orders; ~5 min on 2 cores) + coverage PNG
	$(BIN)/simpl data kitchen --recipe v0 --episodes 600 --out $(KITCHEN_DATASET) --overwrite
	$(BIN)/simpl data inspect $(KITCHEN_DATASET) --png $(KITCHEN_DATASET).png

kitchen-skills: $(BIN)/.installed  ## the first kitchen skills (v0 data, ~9 min on 2 cores; the skills of models/kitchen until issue 22) -> runs/bundle_kitchen_v0
	test -d $(KITCHEN_DATASET) || $(BIN)/simpl data kitchen --recipe v0 --episodes 600 --out $(KITCHEN_DATASET)
	$(BIN)/simpl skills train --config config/skills_kitchen.yaml --dataset $(KITCHEN_DATASET) --out runs/skills_kitchen --resume
	$(BIN)/simpl skills export runs/skills_kitchen --out runs/bundle_kitchen_v0
	$(BIN)/simpl skills eval-prior --bundle runs/bundle_kitchen_v0 --episodes 100

kitchen-meta: $(BIN)/.installed  ## meta-train SiMPL on kitchen-train-23 over the v2 skills (~100 min on 2 cores) -> models/kitchen
	$(BIN)/simpl meta train --config config/simpl_kitchen_cpu.yaml --bundle models/kitchen-v2 --tasks kitchen-train-23 --out runs/simpl_kitchen_v2 --resume
	rm -rf models/kitchen && cp -r models/kitchen-v2 models/kitchen
	$(BIN)/simpl meta export runs/simpl_kitchen_v2 --out models/kitchen

kitchen-baselines: $(BIN)/.installed  ## meta-train the PEARL (~24 min) and MTRL (~90 min) baselines on kitchen-train-23
	$(BIN)/simpl meta train --config config/pearl_kitchen_cpu.yaml --bundle models/kitchen --tasks kitchen-train-23 --out runs/pearl_kitchen --resume
	$(BIN)/simpl meta train --config config/mtrl_kitchen_cpu.yaml --bundle models/kitchen --tasks kitchen-train-23 --out runs/mtrl_kitchen --resume

KITCHEN_DATASET_V1 := datasets/kitchen-teleop-v1
KITCHEN_HELDOUT := datasets/kitchen-teleop-heldout-v1
kitchen-skills-v1: $(BIN)/.installed  ## kitchen skills on corrective-label data (~5 min data, ~25 min training, ~5 min evals) -> models/kitchen-v1
	test -d $(KITCHEN_DATASET_V1) || $(BIN)/simpl data kitchen --recipe v1 --episodes 600 --out $(KITCHEN_DATASET_V1)
	test -d $(KITCHEN_HELDOUT) || $(BIN)/simpl data kitchen --recipe v1 --episodes 50 --seed 1 --out $(KITCHEN_HELDOUT)
	$(BIN)/simpl skills train --config config/skills_kitchen_v1.yaml --dataset $(KITCHEN_DATASET_V1) --out runs/skills_kitchen_v1 --resume
	$(BIN)/simpl skills export runs/skills_kitchen_v1 --out models/kitchen-v1
	$(BIN)/simpl skills eval-skills --skills runs/skills_kitchen_v1 --dataset $(KITCHEN_HELDOUT) --episodes 50 --out models/kitchen-v1/replay_report.json
	$(BIN)/simpl skills eval-prior --bundle models/kitchen-v1 --episodes 100

KITCHEN_DATASET_1200 := datasets/kitchen-teleop-1200-v1
KITCHEN_DATASET_V2 := datasets/kitchen-teleop-v2
KITCHEN_HELDOUT_V2 := datasets/kitchen-teleop-heldout-v2
# one ladder row: train on a dataset, export, replay held-out demos (v1 unless a third argument names others), roll
# out the prior (row, dataset[, held-out dataset])
ladder_row = $(BIN)/simpl skills train --config config/studies/kitchen_skills/$(1).yaml --dataset $(2) --out runs/ladder/$(1) --resume \
	  && $(BIN)/simpl skills export runs/ladder/$(1) --out runs/ladder/$(1)/bundle \
	  && $(BIN)/simpl skills eval-skills --skills runs/ladder/$(1) --dataset $(or $(3),$(KITCHEN_HELDOUT)) --episodes 50 --out runs/ladder/$(1)/replay_report$(if $(3),_v2).json \
	  && $(BIN)/simpl skills eval-prior --bundle runs/ladder/$(1)/bundle --episodes 100 --out runs/ladder/$(1)/prior
# a row on v2 data: replayed on the v2 held-out demos, then on the v1 ones as every row (row)
ladder_row_v2 = $(call ladder_row,$(1),$(KITCHEN_DATASET_V2),$(KITCHEN_HELDOUT_V2)) \
	  && $(BIN)/simpl skills eval-skills --skills runs/ladder/$(1) --dataset $(KITCHEN_HELDOUT) --episodes 50 --out runs/ladder/$(1)/replay_report.json
kitchen-skills-ladder: $(BIN)/.installed  ## the kitchen-skills ablation ladder (docs/results/kitchen_skills.md): rows 1-4 on v0 data, row 5 = kitchen-skills-v1, rows 6-7 continue from models/kitchen-v1, rows 8-9 on v2 data
	test -d $(KITCHEN_DATASET) || $(BIN)/simpl data kitchen --recipe v0 --episodes 600 --out $(KITCHEN_DATASET)
	test -d $(KITCHEN_DATASET_V1) || $(BIN)/simpl data kitchen --recipe v1 --episodes 600 --out $(KITCHEN_DATASET_V1)
	test -d $(KITCHEN_DATASET_1200) || $(BIN)/simpl data kitchen --recipe v1 --episodes 1200 --out $(KITCHEN_DATASET_1200)
	test -d $(KITCHEN_HELDOUT) || $(BIN)/simpl data kitchen --recipe v1 --episodes 50 --seed 1 --out $(KITCHEN_HELDOUT)
	test -d $(KITCHEN_DATASET_V2) || $(BIN)/simpl data kitchen --recipe v2 --episodes 600 --out $(KITCHEN_DATASET_V2)
	test -d $(KITCHEN_HELDOUT_V2) || $(BIN)/simpl data kitchen --recipe v2 --episodes 50 --seed 1 --out $(KITCHEN_HELDOUT_V2)
	$(call ladder_row,1_today,$(KITCHEN_DATASET))
	$(call ladder_row,2_long,$(KITCHEN_DATASET))
	$(call ladder_row,3_positions,$(KITCHEN_DATASET))
	$(call ladder_row,4_normalized,$(KITCHEN_DATASET))
	$(call ladder_row,6_continued,$(KITCHEN_DATASET_V1))
	$(call ladder_row,7_more_data,$(KITCHEN_DATASET_1200))
	$(call ladder_row_v2,8_observable)
	$(call ladder_row_v2,9_observable_continued)

kitchen-skills-v2: $(BIN)/.installed  ## kitchen skills continued from models/kitchen-v1 on v2 data (observable operator; ~5 min data, ~45 min training, ~10 min evals) -> models/kitchen-v2
	test -d $(KITCHEN_DATASET_V2) || $(BIN)/simpl data kitchen --recipe v2 --episodes 600 --out $(KITCHEN_DATASET_V2)
	test -d $(KITCHEN_HELDOUT_V2) || $(BIN)/simpl data kitchen --recipe v2 --episodes 50 --seed 1 --out $(KITCHEN_HELDOUT_V2)
	test -d $(KITCHEN_HELDOUT) || $(BIN)/simpl data kitchen --recipe v1 --episodes 50 --seed 1 --out $(KITCHEN_HELDOUT)
	$(call ladder_row_v2,9_observable_continued)
	$(BIN)/simpl skills export runs/ladder/9_observable_continued --out models/kitchen-v2
	cp runs/ladder/9_observable_continued/replay_report.json runs/ladder/9_observable_continued/replay_report_v2.json runs/ladder/9_observable_continued/prior/prior_report.json models/kitchen-v2/

KITCHEN_EPISODES ?= 100
kitchen-compare: $(BIN)/.installed  ## kitchen target-task learning curves of SiMPL and SPiRL (10 sequences x 3 seeds)
	$(BIN)/simpl eval sample-efficiency --domain kitchen --methods simpl,spirl --episodes $(KITCHEN_EPISODES) --seeds 3

demos: $(BIN)/.installed  ## record kitchen demos over ROS 2 (scripted operator, 10 episodes) into a dataset and an MCAP bag
	$(ROS_RUN_ENV) $(BIN)/simpl-ros launch record_demos episodes:=10 bag:=runs/demos_bag_$$(date +%Y%m%d_%H%M%S)

test: $(BIN)/.installed-test  ## install everything, check formatting and lint (ruff) and run the test suite
	$(BIN)/ruff format --check --quiet .
	$(BIN)/ruff check --quiet .
	$(ROS_RUN_ENV) $(BIN)/python -m pytest -q

bench: $(BIN)/.installed  ## env throughput (raw mj_step vs single vs batched) and skill-graph latency
	$(BIN)/simpl bench env --domain maze
	$(BIN)/simpl bench env --domain kitchen --steps 5000 --batch-sizes 4,16,64
	$(BIN)/simpl bench inference --bundle models/maze $$(test -d runs/skills_maze && echo --skills runs/skills_maze)

clean:  ## remove the venv and generated data
	rm -rf $(VENV) datasets runs
