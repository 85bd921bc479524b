# elman-bench refuses misuse before it costs anything: an unwritable --json path fails at once,
# and a row too large for the machine (B = 1e9) fails alone while the rows after it still run.
# cmake -DEXE=elman-bench -DDIR=<scratch folder> -P misuse_run.cmake
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})
execute_process(COMMAND ${EXE} --device cpu --quick --json ${DIR}/missing/out.json
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "cannot write .*checked before the benchmark runs")
  message(FATAL_ERROR "an unwritable --json was not refused first (exit ${rc}):\n${out}${err}")
endif()
file(WRITE ${DIR}/shapes.txt "1000000000 8 5 1 uni\n2 8 5 1 uni\n")
execute_process(COMMAND ${EXE} --device cpu --shapes ${DIR}/shapes.txt --runs 20 --warmup 1
                        --rotations 2 --python /nonexistent/python3 --json ${DIR}/rows.json
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT EXISTS ${DIR}/rows.json)
  message(FATAL_ERROR "a huge row stopped the run (exit ${rc}):\n${out}${err}")
endif()
file(READ ${DIR}/rows.json json)
string(JSON huge_error GET "${json}" shapes 0 error)
if(NOT huge_error MATCHES "out of host memory|could not allocate")
  message(FATAL_ERROR "the huge row's error is '${huge_error}'")
endif()
string(JSON small_status GET "${json}" shapes 1 elman status)
if(NOT small_status STREQUAL "ok")
  message(FATAL_ERROR "the row after the huge one did not run: elman status '${small_status}'")
endif()
message(STATUS "unwritable --json refused first; the huge row failed alone: ${huge_error}")
