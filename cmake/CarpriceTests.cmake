# carprice_unit_test(NAME SOURCES f.c... LIBS lib...)
#   A cmocka test run by CTest with label "unit".
# carprice_integration_test(NAME LABEL area SOURCES f.c... LIBS lib... [ARGS arg...])
#   A test against the real local stack (scripts/stack up), labelled
#   "integration" and its area. Endpoints come from the environment that
#   scripts/stack env prints; tests run serially since they share services.
function(carprice_unit_test name)
    cmake_parse_arguments(T "" "" "SOURCES;LIBS" ${ARGN})
    add_executable(${name} ${T_SOURCES})
    target_link_libraries(${name} PRIVATE carprice_options PkgConfig::CMOCKA ${T_LIBS})
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES LABELS "unit" TIMEOUT 120)
endfunction()

function(carprice_integration_test name)
    cmake_parse_arguments(T "" "LABEL;TIMEOUT" "SOURCES;LIBS;ARGS" ${ARGN})
    if(NOT T_TIMEOUT)
        set(T_TIMEOUT 600)
    endif()
    add_executable(${name} ${T_SOURCES})
    target_link_libraries(${name} PRIVATE carprice_options PkgConfig::CMOCKA ${T_LIBS})
    add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
    set_tests_properties(${name} PROPERTIES LABELS "integration;${T_LABEL}"
        TIMEOUT ${T_TIMEOUT} RUN_SERIAL TRUE)
endfunction()
