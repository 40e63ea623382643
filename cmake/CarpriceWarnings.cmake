# Compiler flags shared by every target. carprice_options is an INTERFACE
# library each target links so the flags stay in one place.
add_library(carprice_options INTERFACE)
target_compile_options(carprice_options INTERFACE
    -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wwrite-strings
    -Wno-missing-field-initializers)
target_compile_definitions(carprice_options INTERFACE _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
if(CARPRICE_WERROR)
    target_compile_options(carprice_options INTERFACE -Werror)
endif()
if(CARPRICE_SANITIZE)
    target_compile_options(carprice_options INTERFACE
        -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    target_link_options(carprice_options INTERFACE -fsanitize=address,undefined)
endif()
