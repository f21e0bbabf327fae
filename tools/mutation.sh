#!/usr/bin/env bash
# Mutation testing of the method code (issue 17) with mutmut 3 (pip install -e .[mutation]).
#
#   tools/mutation.sh AREA [AREA ...]      AREA: losses layers ssgan adv_culture dann face_cnn baseline
#   tools/mutation.sh all
#
# For each AREA: copies the repository's code and tests into $MUTATION_WORK/AREA (default
# /tmp/emozoo_mutation; the repository itself is never modified), writes a setup.cfg [mutmut]
# section that mutates only that area's files and runs only its fast tests, runs `mutmut run`
# and writes the per-mutant outcome to $MUTATION_WORK/AREA/results.txt (`mutmut results --all true`)
# and a summary line (killed / survived / other) to $MUTATION_WORK/summary.txt.
# Inspect one mutant:  cd $MUTATION_WORK/AREA && mutmut show <name>.
# CPU-heavy: MUTATION_JOBS (default 1) parallel workers.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${MUTATION_WORK:-/tmp/emozoo_mutation}"
JOBS="${MUTATION_JOBS:-1}"
PY="${PYTHON:-python}"

files_of() {   # the files mutated per area (train_step / loss code of each model)
  case "$1" in
    losses)      echo "emozoo/losses/consistency.py emozoo/losses/kplus1.py emozoo/losses/soft_hgr.py" ;;
    layers)      echo "emozoo/layers/gradient_reversal.py emozoo/layers/standardization.py emozoo/layers/guided_relu.py emozoo/layers/attention_fusion.py emozoo/layers/sa_gru.py" ;;
    ssgan)       echo "emozoo/models/ssgan/ssgan_model.py" ;;
    adv_culture) echo "emozoo/models/adv_culture/adv_culture_model.py emozoo/models/adv_culture/culture_standardization.py emozoo/models/adv_culture/cross_culture_split.py" ;;
    dann)        echo "emozoo/models/dann/dann_model.py" ;;
    face_cnn)    echo "emozoo/models/face_cnn/face_cnn_model.py" ;;
    baseline)    echo "emozoo/models/baseline/baseline_classifier.py" ;;
    *) echo "unknown area $1 (losses layers ssgan adv_culture dann face_cnn baseline)" >&2; exit 2 ;;
  esac
}

tests_of() {   # the fast tests that guard each area
  case "$1" in
    losses)      echo "tests/losses tests/models/ssgan/test_ssgan_semisupervised.py" ;;
    layers)      echo "tests/layers" ;;
    ssgan)       echo "tests/models/ssgan/test_ssgan_model.py tests/models/ssgan/test_ssgan_semisupervised.py tests/losses" ;;
    adv_culture) echo "tests/models/adv_culture/test_adv_culture_model.py tests/models/adv_culture/test_adv_culture_eq4.py" ;;
    dann)        echo "tests/models/dann/test_dann_model.py tests/models/dann/test_dann_learns.py" ;;
    face_cnn)    echo "tests/models/face_cnn/test_face_cnn.py" ;;
    baseline)    echo "tests/models/baseline/test_baseline_classifier.py" ;;
  esac
}

areas=("$@")
[ "${#areas[@]}" -eq 0 ] && { echo "usage: $0 AREA [AREA ...] | all" >&2; exit 2; }
[ "${areas[0]}" = all ] && areas=(losses layers ssgan adv_culture dann face_cnn baseline)
mkdir -p "$WORK"
for area in "${areas[@]}"; do
  dir="$WORK/$area"
  rm -rf "$dir" && mkdir -p "$dir"
  cp -r "$REPO/emozoo" "$REPO/tests" "$REPO/pipelines" "$dir/"
  [ -d "$REPO/benchmarks" ] && cp -r "$REPO/benchmarks" "$dir/"
  [ -d "$REPO/docs" ] && cp -r "$REPO/docs" "$dir/"
  find "$dir" -name __pycache__ -prune -exec rm -rf {} +
  # mutmut 3 wraps every mutated function in a trampoline (functools.wraps, so __wrapped__ is set);
  # Keras' Operation.__new__ reads inspect.getfullargspec(cls.__init__), which does not follow
  # __wrapped__ and sees (*args, **kwargs): every Keras layer with a mutated __init__ then fails to
  # build. In the copy only, getfullargspec follows __wrapped__ (as inspect.signature already does).
  cat >> "$dir/tests/conftest.py" <<'PY'


import inspect as _inspect  # mutation copy only (tools/mutation.sh): see the comment there

_getfullargspec = _inspect.getfullargspec
_inspect.getfullargspec = lambda func: _getfullargspec(_inspect.unwrap(func))
PY
  {
    echo "[mutmut]"
    echo "source_paths = emozoo"
    printf 'only_mutate =\n'; for f in $(files_of "$area"); do printf '    %s\n' "$f"; done
    printf 'pytest_add_cli_args_test_selection =\n'; for t in $(tests_of "$area"); do printf '    %s\n' "$t"; done
    echo "process_isolation = forkserver"   # fork from a server that imported the tests but ran no TF op (forking after TF ran deadlocks: spurious timeouts)
    printf 'pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -x\n    -q\n'
    echo "also_copy ="; echo "    pipelines/"; echo "    benchmarks/"; echo "    docs/"
  } > "$dir/setup.cfg"
  echo "[mutation] $area: $(files_of "$area") <- $(tests_of "$area")"
  ( cd "$dir" && TF_CPP_MIN_LOG_LEVEL=2 CUDA_VISIBLE_DEVICES=-1 "$PY" -m mutmut run --max-children "$JOBS" ) \
      > "$dir/run.log" 2>&1 || true
  ( cd "$dir" && "$PY" -m mutmut results --all true > results.txt 2>&1 ) || true
  killed=$(grep -c ': killed' "$dir/results.txt" || true)
  survived=$(grep -c ': survived' "$dir/results.txt" || true)
  total=$(grep -c ': ' "$dir/results.txt" || true)
  echo "$area killed=$killed survived=$survived total=$total ($(date -u +%FT%TZ))" | tee -a "$WORK/summary.txt"
done
