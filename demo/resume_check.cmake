# End-to-end check of elman-train --resume (ctest elman_train.resume): a series run of 6 epochs
# against 3 epochs then a resumed run to 6 must end with byte-identical model.safetensors, the
# learning-rate schedule included; a resume with another batch size is refused unless
# --allow-changes.
# Usage: cmake -DEXE=<elman-train> -DCSV=<sunspots csv> -DDIR=<scratch folder> -P resume_check.cmake
set(args series --csv ${CSV} --column SUNACTIVITY --window 60 --bptt 25 --device cpu
         --lr-schedule step:2:0.5)
file(REMOVE_RECURSE ${DIR})
function(run)
  execute_process(COMMAND ${EXE} ${args} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "elman-train ${ARGN} failed (${rc}):\n${out}")
  endif()
endfunction()
run(--epochs 6 --out ${DIR}/straight)
run(--epochs 3 --out ${DIR}/first)
run(--epochs 6 --resume ${DIR}/first --out ${DIR}/resumed)
file(SHA256 ${DIR}/straight/model.safetensors straight)
file(SHA256 ${DIR}/resumed/model.safetensors resumed)
if(NOT straight STREQUAL resumed)
  message(FATAL_ERROR "a resumed run ended with other weights than the uninterrupted one")
endif()
message(STATUS "resumed run == uninterrupted run (model.safetensors ${resumed})")

# Another batch size: refused before anything is written, naming both values.
execute_process(COMMAND ${EXE} ${args} --epochs 6 --batch 7 --resume ${DIR}/first
                        --out ${DIR}/changed
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(rc EQUAL 0 OR NOT out MATCHES "batch_size: this run '7', the checkpoint '[0-9]+'"
   OR NOT out MATCHES "--allow-changes" OR EXISTS ${DIR}/changed)
  message(FATAL_ERROR "a resume with another batch size was not refused as expected (${rc}):\n${out}")
endif()
run(--epochs 6 --batch 7 --allow-changes --resume ${DIR}/first --out ${DIR}/changed)
message(STATUS "another batch size: refused, then accepted with --allow-changes")
