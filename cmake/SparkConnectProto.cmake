# Generates C code for the Spark Connect protocol from the .proto files shipped
# inside the pinned spark-connect jar (never copied into the repository).
#
# Sets SC_PROTO_SOURCES (generated .c files) and SC_PROTO_INCLUDE_DIR.
#
# protoc-c 1.4 (Debian 12) rejects proto3 `optional`. A proto3 optional field
# is, on the wire and in meaning, a singular field inside a one-member oneof,
# so the extracted files are rewritten that way before generation; presence is
# then read from the oneof's case field.

if(DEFINED ENV{CARPRICE_CACHE})
    set(_cache $ENV{CARPRICE_CACHE})
elseif(DEFINED ENV{XDG_CACHE_HOME})
    set(_cache $ENV{XDG_CACHE_HOME}/carprice)
else()
    set(_cache $ENV{HOME}/.cache/carprice)
endif()
set(_ver ${CARPRICE_SPARK_VERSION})
# An empty cache entry means "the jar of the pinned version": a build dir then
# follows versions.env when SPARK_VERSION changes instead of keeping an old path.
set(CARPRICE_SPARK_CONNECT_JAR ""
    CACHE FILEPATH "spark-connect jar whose .proto files define the protocol (empty: pinned)")
set(_jar ${CARPRICE_SPARK_CONNECT_JAR})
if(NOT _jar)
    set(_jar ${_cache}/jars/spark-${_ver}/spark-connect_${CARPRICE_SCALA_BINARY}-${_ver}.jar)
endif()
if(NOT EXISTS ${_jar})
    message(FATAL_ERROR "Spark Connect jar not found at ${_jar}; "
                        "run scripts/bootstrap jars (or set CARPRICE_SPARK_CONNECT_JAR)")
endif()

find_program(PROTOC_C protoc-c REQUIRED)
find_program(UNZIP unzip REQUIRED)
find_program(SED sed REQUIRED)

set(_root ${CMAKE_BINARY_DIR}/proto)
set(_src ${_root}/src)
set(_gen ${_root}/gen)
# The stamp names the jar the code was generated from; another jar (a new
# version, or an override) or a newer copy of the same one regenerates it.
set(_stamp ${_root}/stamp)
set(_stamped "")
if(EXISTS ${_stamp})
    file(READ ${_stamp} _stamped)
endif()

if(NOT _stamped STREQUAL _jar OR ${_jar} IS_NEWER_THAN ${_stamp})
    file(REMOVE_RECURSE ${_root})
    file(MAKE_DIRECTORY ${_src} ${_gen})
    execute_process(
        COMMAND ${UNZIP} -q -o ${_jar} "spark/connect/*.proto"
                "google/rpc/status.proto" "google/rpc/error_details.proto" -d ${_src}
        RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "could not extract .proto files from ${_jar}")
    endif()
    file(GLOB_RECURSE _protos RELATIVE ${_src} ${_src}/*.proto)
    foreach(_p IN LISTS _protos)
        execute_process(COMMAND ${SED} -E -i
            "s/^([[:space:]]*)optional[[:space:]]+([A-Za-z0-9_.]+)[[:space:]]+([A-Za-z0-9_]+)[[:space:]]*=[[:space:]]*([0-9]+)([^;]*);/\\1oneof _\\3 { \\2 \\3 = \\4\\5; }/"
            ${_src}/${_p})
    endforeach()
    # Well-known types the protocol imports come from Debian's protobuf headers.
    execute_process(
        COMMAND ${PROTOC_C} -I${_src} -I/usr/include --c_out=${_gen} ${_protos}
                google/protobuf/any.proto google/protobuf/duration.proto
                google/protobuf/timestamp.proto
        RESULT_VARIABLE _rc ERROR_VARIABLE _err)
    if(NOT _rc EQUAL 0)
        message(FATAL_ERROR "protoc-c failed on the Spark Connect protocol:\n${_err}")
    endif()
    file(WRITE ${_stamp} ${_jar})
endif()

file(GLOB_RECURSE SC_PROTO_SOURCES ${_gen}/*.pb-c.c)
set(SC_PROTO_INCLUDE_DIR ${_gen})
