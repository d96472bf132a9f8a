#!/usr/bin/env bash
# The library user's path: `pip install .` (not editable) into a clean virtual environment without ROS
# or the system's packages, then the CLI on a bundled photo and the library-only tests.
set -euo pipefail
repository="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$repository[opencv,test]"
cd "$work"  # away from the checkout, so nothing is imported from src/
photo="$repository/data/frames/face_recognition_two_people.jpg"
"$work/venv/bin/face-affect" --set detector=haar image "$photo" > faces.json
"$work/venv/bin/python" - faces.json <<'PYTHON'
import json, sys
record = json.load(open(sys.argv[1]))
faces = record["faces"]
assert len(faces) == 2 and all({"gender", "emotion", "box"} <= set(face) for face in faces), record
print(f"pip install: CLI found {len(faces)} faces:", [(face["gender"], face["emotion"]) for face in faces])
PYTHON
"$work/venv/bin/python" -c "import face_affect.settings as s; assert 'site-packages' in str(s.MODELS_DIRECTORY), s.MODELS_DIRECTORY"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider -m "not ros and not training" "$repository/test"
