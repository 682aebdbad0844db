# Hardening for every build (what checksec looks for): PIE, full RELRO
# (-z relro -z now), stack canaries (-fstack-protector-strong) and
# _FORTIFY_SOURCE=2 when optimising.  A flag the builder already passes in
# CFLAGS/CPPFLAGS/LDFLAGS (dpkg-buildflags' hardening=+all in the Debian build)
# is not added a second time; the summary line says what was added.
include(CheckCCompilerFlag)
include(CheckCSourceCompiles)
include(CheckLinkerFlag)
include(CheckPIESupported)

set(domsec_hardening "")

# PIE: -fPIE for objects and -pie at link (needs policy CMP0083, NEW since 3.14).
check_pie_supported(OUTPUT_VARIABLE domsec_pie_why LANGUAGES C)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
if(CMAKE_C_LINK_PIE_SUPPORTED)
  list(APPEND domsec_hardening "PIE")
else()
  message(WARNING "The linker cannot make a position-independent executable: ${domsec_pie_why}")
endif()

if(NOT CMAKE_C_FLAGS MATCHES "-f(no-)?stack-protector")
  check_c_compiler_flag(-fstack-protector-strong DOMSEC_HAVE_STACK_PROTECTOR_STRONG)
  if(DOMSEC_HAVE_STACK_PROTECTOR_STRONG)
    add_compile_options(-fstack-protector-strong)
    list(APPEND domsec_hardening "-fstack-protector-strong")
  endif()
endif()

# _FORTIFY_SOURCE needs optimisation (glibc warns without it, e.g. in the
# Debug/ASan build), and must not be defined twice: ask the compiler, with this
# build type's flags, whether it optimises and has none yet.
string(TOUPPER "${CMAKE_BUILD_TYPE}" domsec_bt)
set(CMAKE_REQUIRED_FLAGS "${CMAKE_C_FLAGS_${domsec_bt}}")
set(CMAKE_REQUIRED_QUIET ON)
check_c_source_compiles("
#if !defined(__OPTIMIZE__) || defined(_FORTIFY_SOURCE)
#error not optimising, or _FORTIFY_SOURCE is already set
#endif
int main(void) { return 0; }" DOMSEC_ADD_FORTIFY_${domsec_bt})
unset(CMAKE_REQUIRED_FLAGS)
unset(CMAKE_REQUIRED_QUIET)
if(DOMSEC_ADD_FORTIFY_${domsec_bt})
  add_compile_definitions(_FORTIFY_SOURCE=2)
  list(APPEND domsec_hardening "-D_FORTIFY_SOURCE=2")
endif()

foreach(z relro now)
  if(NOT CMAKE_EXE_LINKER_FLAGS MATCHES "-z,? *${z}")
    check_linker_flag(C "LINKER:-z,${z}" DOMSEC_HAVE_LD_Z_${z})
    if(DOMSEC_HAVE_LD_Z_${z})
      add_link_options("LINKER:-z,${z}")
      list(APPEND domsec_hardening "-z ${z}")
    endif()
  endif()
endforeach()

list(JOIN domsec_hardening " " domsec_hardening)
message(STATUS "Hardening added: ${domsec_hardening}")
