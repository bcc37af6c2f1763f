# Compiles freestanding sources (C++ and .S) with one given compiler driver, outside CMake's
# own toolchain: images like the sample guest and the Xen wedge need their own flags, and the
# guest must be built by afterburn-cc.
#
# afterburn_freestanding_objects(<out-var>
#   LABEL <text> SOURCE_DIR <dir> OBJECT_DIR <dir>
#   COMPILER <driver and args...> CXX_FLAGS <...> ASM_FLAGS <...> SOURCES <files...>
#   [DEPENDS <targets or files...>])
# Sets <out-var> to the list of object files.
function(afterburn_freestanding_objects out_var)
  cmake_parse_arguments(A "" "LABEL;SOURCE_DIR;OBJECT_DIR" "COMPILER;CXX_FLAGS;ASM_FLAGS;SOURCES;DEPENDS" ${ARGN})
  set(objects)
  foreach(f IN LISTS A_SOURCES)
    set(obj ${A_OBJECT_DIR}/${f}.o)
    get_filename_component(obj_dir ${obj} DIRECTORY)  # sources may sit in subdirectories
    if(f MATCHES "\\.S$")
      set(flags ${A_ASM_FLAGS})
    else()
      set(flags ${A_CXX_FLAGS})
    endif()
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${obj_dir}
      COMMAND ${A_COMPILER} ${flags} -MD -MF ${obj}.d -c ${A_SOURCE_DIR}/${f} -o ${obj}
      DEPENDS ${A_SOURCE_DIR}/${f} ${A_DEPENDS}
      DEPFILE ${obj}.d
      COMMENT "${A_LABEL}: ${f}"
      VERBATIM)
    list(APPEND objects ${obj})
  endforeach()
  set(${out_var} ${objects} PARENT_SCOPE)
endfunction()
