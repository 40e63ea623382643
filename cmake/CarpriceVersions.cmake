# Reads the pinned component versions from versions.env (KEY=VALUE lines) into
# CMake variables CARPRICE_<KEY>, so C code and scripts agree on one source.
file(STRINGS ${CMAKE_SOURCE_DIR}/versions.env _lines REGEX "^[A-Z_]+=")
foreach(_line IN LISTS _lines)
    string(REGEX MATCH "^([A-Z_]+)=(.*)$" _m "${_line}")
    set(CARPRICE_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
endforeach()
if(NOT CARPRICE_SPARK_VERSION)
    message(FATAL_ERROR "versions.env has no SPARK_VERSION")
endif()
