#!/usr/bin/env bash
# Mutation testing of the method code (issue 17) with mutmut 3 (pip install -e .[mutation]).
#
#   tools/mutation.sh AREA [AREA ...]      AREA: losses layers ssgan adv_culture dann emodal face_cnn baseline
#   tools/mutation.sh all
#
# For each AREA: copies the repository's code and tests into $MUTATION_WORK/AREA (default
# /tmp/emozoo_mutation; the repository itself is never modified), writes a setup.cfg [mutmut]
# section that mutates only that area's files and runs only its fast tests, runs `mutmut run`
# and writes the per-mutant outcome to $MUTATION_WORK/AREA/results.txt (`mutmut results --all true`)
# and a summary line (killed / survived / other) to $MUTATION_WORK/summary.txt.
# Inspect one mutant:  cd $MUTATION_WORK/AREA && mutmut show <name>.
# CPU-heavy: MUTATION_JOBS (default 1) parallel workers.
# losses/ and layers/ are mutated whole. For a model, only its train-step and loss code is mutated
# (functions_of below: train_step, test_step, the loss terms, the update and metric helpers they call);
# its builders, configs and exports are not (mutmut's fnmatch filter on mutant names). The summary
# line counts the selected mutants only.
# Overrides (one area at a time): MUTATION_TESTS="tests/a.py tests/b" replaces the area's tests,
# MUTATION_PATTERNS="glob glob" its mutant-name patterns (e.g. to finish a cut run with faster tests
# in another MUTATION_WORK; mutmut resets every verdict when the test selection changes in place).
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
    emodal)      echo "emozoo/models/emodal/emodal_model.py" ;;
    adv_culture) echo "emozoo/models/adv_culture/adv_culture_model.py emozoo/models/adv_culture/culture_standardization.py emozoo/models/adv_culture/cross_culture_split.py" ;;
    dann)        echo "emozoo/models/dann/dann_model.py" ;;
    face_cnn)    echo "emozoo/models/face_cnn/face_cnn_model.py" ;;
    baseline)    echo "emozoo/models/baseline/baseline_classifier.py" ;;
    *) echo "unknown area $1 (losses layers ssgan adv_culture dann emodal face_cnn baseline)" >&2; exit 2 ;;
  esac
}

functions_of() {   # mutmut mutant-name patterns of the train-step / loss code (empty: every mutant of the files)
  local m
  case "$1" in
    ssgan)       m='emozoo.models.ssgan.ssgan_model.xǁSemiSupervisedGANǁ'
                 for f in _real _noise discriminator_losses generator_loss _unpack _accuracy discriminator_step \
                          generator_step supervised_step train_step test_step; do echo "${m}${f}__mutmut_*"; done ;;
    adv_culture) m='emozoo.models.adv_culture.adv_culture_model.'
                 for f in _unpack _labelled_mask _per_example_culture_loss _per_example_confusion_loss _emotion_terms \
                          _prepare culture_update generator_update train_step test_step _update_confusion _results \
                          set_alpha; do
                   echo "${m}xǁAdversarialCultureModelǁ${f}__mutmut_*"; done ;;   # (input parsing, the
                 # normalisation layer, the alpha schedule and the split helper are not step code: not selected)
    dann)        m='emozoo.models.dann.dann_model.'
                 for f in _unpack _dann_losses _track train_step test_step set_lambda; do
                   echo "${m}xǁ_DANNBaseǁ${f}__mutmut_*"; done ;;
    emodal)      m='emozoo.models.emodal.emodal_model.xǁEMODalModelǁ'
                 for f in heads _prediction _unpack _ce compute_losses train_step test_step _update_metrics; do
                   echo "${m}${f}__mutmut_*"; done ;;
    baseline)    m='emozoo.models.baseline.baseline_classifier.xǁBaselineClassifierǁ'
                 for f in _unpack _forward_losses train_step test_step _update_metrics; do echo "${m}${f}__mutmut_*"; done ;;
    *) ;;   # losses, layers, face_cnn (no train_step of its own: the whole file)
  esac
}

tests_of() {   # the fast tests that guard each area
  case "$1" in
    losses)      echo "tests/losses" ;;   # exact unit tests (the SSGAN training tests belong to the ssgan area)
    layers)      echo "tests/layers" ;;
    ssgan)       t=tests/models/ssgan/test_ssgan_semisupervised.py   # its 45 s learning test left out: no step detail
                 echo "tests/models/ssgan/test_ssgan_step.py tests/models/ssgan/test_ssgan_model.py" \
                      "$t::test_unlabelled_rows_reach_the_discriminator_update" \
                      "$t::test_consistency_covers_the_unlabelled_rows_and_lambda_scales_it" \
                      "$t::test_ct_form_option_config_and_validation" ;;
    adv_culture) t=tests/models/adv_culture/test_adv_culture_model.py   # its save/export and subprocess tests left out
                 echo "tests/models/adv_culture/test_adv_culture_step.py tests/models/adv_culture/test_adv_culture_eq4.py" \
                      "$t::test_culture_update_decreases_and_generator_update_increases_culture_loss" \
                      "$t::test_confusion_objective_generator_update_moves_culture_classifier_towards_uniform" \
                      "$t::test_culture_specific_normalisation_uses_each_cultures_training_statistics" \
                      "$t::test_three_cultures_softmax_early_fusion_and_config_round_trip $t::test_bad_configs_raise" ;;
    dann)        t=tests/models/dann/test_dann_model.py   # its save/export tests (10-20 s) left out: they test no loss
                 echo "tests/models/dann/test_dann_step_metrics.py tests/models/dann/test_dann_learns.py" \
                      "$t::test_forward_shapes_and_masking $t::test_losses_use_labelled_rows_and_domain_rows" \
                      "$t::test_gradient_of_encoder_is_reversed_and_lambda_zero_blocks_it $t::test_two_modalities_audio_text" \
                      "$t::test_train_step_learns_and_ci_twin_keeps_domain_classifier_training $t::test_bad_arguments_and_batches" ;;
    emodal)      t=tests/models/emodal/test_emodal_model.py   # its trainer-run test (13 s) left out
                 echo "tests/models/emodal/test_emodal_step.py $t::test_total_loss_is_the_weighted_sum_and_common_loss_is_minus_the_h_score" \
                      "$t::test_single_modality_models_read_only_their_part $t::test_bad_inputs_are_refused" \
                      "$t::test_cnn_branch_architecture_and_training_step_with_augmentation" \
                      "$t::test_training_learns_a_paired_synthetic_task_and_the_common_loss_keeps_features_correlated" ;;
    face_cnn)    t=tests/models/face_cnn/test_face_cnn.py    # its training / export tests (minutes) left out
                 echo "tests/models/face_cnn/test_face_cnn_parts.py $t::test_architecture_of_the_paper" \
                      "$t::test_softmax_output_and_guided_copy_has_the_same_forward $t::test_bad_architecture_is_refused" ;;
    baseline)    echo "tests/models/baseline/test_baseline_step.py tests/models/baseline/test_baseline_classifier.py" ;;
  esac
}

areas=("$@")
[ "${#areas[@]}" -eq 0 ] && { echo "usage: $0 AREA [AREA ...] | all" >&2; exit 2; }
[ "${areas[0]}" = all ] && areas=(losses layers ssgan adv_culture dann emodal face_cnn baseline)
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
  # the same for test subprocesses (the mirrored-strategy tests start `python -c ...` with the copy on
  # PYTHONPATH): Python imports sitecustomize.py from sys.path at start-up
  cat > "$dir/sitecustomize.py" <<'PY'
import inspect as _inspect  # mutation copy only (tools/mutation.sh): Keras layers under mutmut trampolines

_getfullargspec = _inspect.getfullargspec
_inspect.getfullargspec = lambda func: _getfullargspec(_inspect.unwrap(func))
PY
  {
    echo "[mutmut]"
    echo "source_paths = emozoo"
    printf 'only_mutate =\n'; for f in $(files_of "$area"); do printf '    %s\n' "$f"; done
    printf 'pytest_add_cli_args_test_selection =\n'; for t in ${MUTATION_TESTS:-$(tests_of "$area")}; do printf '    %s\n' "$t"; done
    echo "process_isolation = forkserver"   # fork from a server that imported the tests but ran no TF op (forking after TF ran deadlocks: spurious timeouts)
    printf 'pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -x\n    -q\n'
    echo "also_copy ="; echo "    pipelines/"; echo "    benchmarks/"; echo "    docs/"; echo "    sitecustomize.py"
  } > "$dir/setup.cfg"
  echo "[mutation] $area: $(files_of "$area") <- ${MUTATION_TESTS:-$(tests_of "$area")}"
  if [ -n "${MUTATION_PATTERNS:-}" ]; then read -r -a patterns <<< "$MUTATION_PATTERNS"
  else mapfile -t patterns < <(functions_of "$area"); fi
  printf '%s\n' "${patterns[@]}" > "$dir/patterns.txt"
  ( cd "$dir" && TF_CPP_MIN_LOG_LEVEL=2 CUDA_VISIBLE_DEVICES=-1 "$PY" -m mutmut run --max-children "$JOBS" \
      "${patterns[@]}" ) > "$dir/run.log" 2>&1 || true
  ( cd "$dir" && "$PY" -m mutmut results --all true > results.txt 2>&1 ) || true
  # count the selected mutants only (results.txt lists every mutant of the files, unselected ones "not checked")
  "$PY" - "$dir" "$area" <<'PY' | tee -a "$WORK/summary.txt"
import collections, datetime, fnmatch, pathlib, sys
d, area = pathlib.Path(sys.argv[1]), sys.argv[2]
pats = [p for p in (d / "patterns.txt").read_text().splitlines() if p.strip()]
count = collections.Counter()
for line in (d / "results.txt").read_text().splitlines():
    name, sep, status = line.strip().rpartition(": ")
    if sep and "__mutmut_" in name and (not pats or any(fnmatch.fnmatch(name, p) for p in pats)):
        count[status.strip()] += 1
total = sum(count.values())
caught = count["killed"] + count["timeout"]
rate = f"{100 * caught / total:.1f}%" if total else "n/a"
other = ", ".join(f"{k}={v}" for k, v in sorted(count.items()) if k not in ("killed", "survived", "timeout"))
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
print(f"{area} killed={count['killed']} timeout={count['timeout']} survived={count['survived']} "
      f"{other + ' ' if other else ''}total={total} caught={rate} ({now})")
PY
done
