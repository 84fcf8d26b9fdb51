# packaging/scdoc.cmake - render one man page: scdoc < PAGE_SRC > PAGE_OUT, then
# gzip -9n PAGE_OUT > PAGE_OUT.gz (-n: no name or time stamp, so that the package is
# reproducible). Run with cmake -P so that it works with any generator (no
# shell redirections in a custom command). A page scdoc rejects fails the
# build with scdoc's message; nothing half-written is left under PAGE_OUT.
#   cmake -DSCDOC=... -DGZIP=... -DPAGE_SRC=page.scd -DPAGE_OUT=page.1 -P scdoc.cmake
foreach(v SCDOC GZIP PAGE_SRC PAGE_OUT)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "scdoc.cmake: -D${v}= is required")
  endif()
endforeach()

execute_process(COMMAND ${SCDOC} INPUT_FILE ${PAGE_SRC} OUTPUT_FILE ${PAGE_OUT}.tmp
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  file(REMOVE ${PAGE_OUT}.tmp)
  message(FATAL_ERROR "scdoc: ${PAGE_SRC}: ${err}")
endif()
file(RENAME ${PAGE_OUT}.tmp ${PAGE_OUT})

execute_process(COMMAND ${GZIP} -9 -n -c ${PAGE_OUT} OUTPUT_FILE ${PAGE_OUT}.gz.tmp
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  file(REMOVE ${PAGE_OUT}.gz.tmp)
  message(FATAL_ERROR "gzip: ${PAGE_OUT}: ${err}")
endif()
file(RENAME ${PAGE_OUT}.gz.tmp ${PAGE_OUT}.gz)
