#!/usr/bin/env bash
# The ROS user's path: the package in a catkin workspace's src/, `catkin_make install`, then the graph
# launched from install/ (demo.launch, recording a few seconds of results). Uses the venv made by
# `make venv` as the nodes' Python (it has onnxruntime), as the README tells a robot integrator.
set -euo pipefail
repository="$(cd "$(dirname "$0")/.." && pwd)"
workspace="$(mktemp -d)"
trap '[ -n "${KEEP_WORKSPACE:-}" ] || rm -rf "$workspace"' EXIT
mkdir -p "$workspace/src"
# A fresh copy of the committed tree (what a clone holds), links included.
git -C "$repository" archive --format=tar --prefix=face_affect/ HEAD | tar -x -C "$workspace/src"
set +u; source /opt/ros/noetic/setup.bash 2>/dev/null || true; set -u
export ROS_VERSION=1  # package.xml's conditions (Debian's ROS sets it only in a sourced workspace)
cd "$workspace"
catkin_make -DPYTHON_EXECUTABLE="$repository/.venv/bin/python3" -DCATKIN_ENABLE_TESTING=OFF > build.log 2>&1 \
    || { tail -30 build.log; exit 1; }
catkin_make install -DPYTHON_EXECUTABLE="$repository/.venv/bin/python3" > install.log 2>&1 \
    || { tail -30 install.log; exit 1; }
dangling="$(find install -xtype l)"
[ -z "$dangling" ] || { echo "dangling links in the install space: $dangling"; exit 1; }
test -f install/lib/python3/dist-packages/face_affect/models/emotion_mini_xception.onnx \
    || { echo "the models are not in the installed package"; exit 1; }
set +u; source install/setup.bash; set -u
# A master on a free port: another run on this machine may hold any fixed one.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("localhost", 0)); print(s.getsockname()[1])')"
export ROS_MASTER_URI="http://localhost:$port"
output="$workspace/demo_output"
timeout --signal=INT --kill-after=15 150 roslaunch --port="$port" face_affect demo.launch record:=true \
    output_dir:="$output" duration:=5 > launch.log 2>&1 || true
grep -q "^results: [1-9]" "$output/summary.txt" 2>/dev/null || { tail -40 launch.log; echo "no results from install/"; exit 1; }
head -3 "$output/summary.txt"
echo "install space: the graph ran from $workspace/install"
