# cmake/WolfSSLTuned.cmake - -DDOMSEC_WOLFSSL=tuned: wolfSSL built from Debian's own
# source package, with its x86-64 assembly, linked statically.
#
# Debian's libwolfssl has no assembly (no AES-NI, no SP P-256: its options.h defines
# neither WOLFSSL_AESNI nor WOLFSSL_SP_X86_64_ASM), which costs about 5x the CPU per
# mutual-TLS handshake (docs/PERFORMANCE.md).  This builds the same version as the
# installed libwolfssl-dev (dpkg-query), from `apt-get source` (hashes checked by apt
# against the signed Sources index; Debian's patches, its CVE fixes among them, applied
# by dpkg-source), configured as debian/rules configures it (its dh_auto_configure flags
# and DEB_BUILD_MAINT_OPTIONS, read from that file, plus the flags dh_auto_configure
# itself passes) and with DOMSEC_WOLFSSL_TUNED_FLAGS added.  The price: Debian's
# security updates of libwolfssl reach domsec only when it is rebuilt.  dpkg's file
# list of libwolfssl-dev (/var/lib/dpkg/info/libwolfssl-dev.list, rewritten by every
# install or upgrade of the package) is a configure dependency, so after an upgrade the
# next `cmake --build` re-runs configure, which sees the new version, a new cache key,
# and builds the new source.
#
# Cached in the build tree, keyed by source version + added flags + recipe version:
#   BUILD/_wolfssl-tuned/VERSION-KEY/{prefix,log} (dl/ and src/ while building only; the
#   directory of an older version is left in place: remove it by hand)
# A configure that finds prefix/domsec-tuned.key holding the key builds nothing.  The
# check, build and stamp run under a file lock (VERSION-KEY.lock), so two configures of
# one build tree wait for each other instead of deleting each other's source.
#
# Result: the imported target PkgConfig::WOLFSSL - the name pkg_check_modules gives the
# system library - so tls/, bench/ and the tests switch with no change of their own.
# It names the static archive, and its include directory comes first (-I, not
# -isystem), so every user compiles against the tuned wolfssl/options.h, never
# /usr/include/wolfssl.  domsec_wolfssl_tuned_tests() adds the ctest that proves it.
#
# Needs (scripts/setup --wolfssl tuned): dpkg-dev, autoconf, automake, libtool, and a
# deb-src line for the Debian suite the installed libwolfssl-dev comes from.

# Bump when domsec_tuned_build changes what it builds (a new key rebuilds old caches):
# 2 = testwolfcrypt known-answer tests run before install
set(domsec_tuned_recipe 2)

set(DOMSEC_WOLFSSL_TUNED_FLAGS
    --enable-intelasm --enable-aesni --enable-sp --enable-sp-asm
    --with-pic --disable-shared --enable-static)

# domsec_tuned_run(STEP DIR CMD...) - run CMD in DIR, output to log/STEP.log; stop on failure
function(domsec_tuned_run step dir)
  set(log "${domsec_tuned_root}/log/${step}.log")
  message(NOTICE "-- wolfSSL tuned: ${step} (log: ${log})")
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${dir}" RESULT_VARIABLE rc
                  OUTPUT_FILE "${log}" ERROR_FILE "${log}")
  if(NOT rc EQUAL 0)
    file(STRINGS "${log}" tail)
    list(LENGTH tail n)
    if(n GREATER 25)
      math(EXPR first "${n} - 25")
      list(SUBLIST tail ${first} 25 tail)
    endif()
    list(JOIN tail "\n" tail)
    message(FATAL_ERROR "wolfSSL tuned: ${step} failed (${rc}):\n${tail}\n"
                        "Full log: ${log}.  The tuned build needs scripts/setup --wolfssl tuned "
                        "(dpkg-dev, autotools, a deb-src source).")
  endif()
endfunction()

# domsec_tuned_debian_flags(SRC OUT_FLAGS OUT_MAINT) - what debian/rules passes to configure
function(domsec_tuned_debian_flags src out_flags out_maint)
  file(READ "${src}/debian/rules" rules)
  string(REGEX MATCH "dh_auto_configure --([^\n]*\\\\\n)*[^\n]*" cmd "${rules}")
  string(REGEX REPLACE "^dh_auto_configure --" "" cmd "${cmd}")
  string(REGEX REPLACE "[\\\\\n\t ]+" ";" cmd "${cmd}")
  set(flags "")
  foreach(f IN LISTS cmd)
    if(f MATCHES "^--[a-z]")
      list(APPEND flags "${f}")
    elseif(NOT f STREQUAL "")
      message(FATAL_ERROR "wolfSSL tuned: ${src}/debian/rules passes '${f}' to configure; "
                          "cmake/WolfSSLTuned.cmake only knows --options: read the rules")
    endif()
  endforeach()
  if(flags STREQUAL "")
    message(FATAL_ERROR "wolfSSL tuned: no dh_auto_configure flags in ${src}/debian/rules")
  endif()
  string(REGEX MATCH "\nexport DEB_BUILD_MAINT_OPTIONS *= *([^\n]*)" m "${rules}")
  set(${out_flags} "${flags}" PARENT_SCOPE)
  set(${out_maint} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

# domsec_tuned_build(SRCPKG VERSION) - download, unpack, configure, build, install
function(domsec_tuned_build srcpkg version)
  set(dl "${domsec_tuned_root}/dl")
  set(src "${domsec_tuned_root}/src")
  file(REMOVE_RECURSE "${dl}" "${src}" "${domsec_tuned_prefix}")
  file(MAKE_DIRECTORY "${dl}" "${domsec_tuned_root}/log")
  domsec_tuned_run(apt-get-source "${dl}" apt-get source --download-only "${srcpkg}=${version}")
  file(GLOB dsc "${dl}/*.dsc")
  domsec_tuned_run(dpkg-source "${dl}" dpkg-source -x "${dsc}" "${src}")
  domsec_tuned_debian_flags("${src}" debian_flags maint)
  # dh_autoreconf (debhelper compat 13), then dh_auto_configure's own flags, Debian's, ours
  domsec_tuned_run(autoreconf "${src}" autoreconf -f -i)
  execute_process(COMMAND dpkg-architecture -qDEB_BUILD_GNU_TYPE
                  OUTPUT_VARIABLE gnu_type OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
  set(env "DEB_BUILD_MAINT_OPTIONS=${maint}")
  # the caller's DEB_BUILD_OPTIONS (noopt...) and DEB_<FLAGS>_SET/APPEND/... would change
  # the library without changing the cache key: the flags are Debian's alone
  set(unset -u DEB_BUILD_OPTIONS)
  foreach(v CFLAGS CPPFLAGS LDFLAGS)
    foreach(op SET STRIP APPEND PREPEND)
      list(APPEND unset -u DEB_${v}_${op} -u DEB_${v}_MAINT_${op})
    endforeach()
  endforeach()
  foreach(v CFLAGS CPPFLAGS LDFLAGS)
    execute_process(COMMAND env ${unset} "DEB_BUILD_MAINT_OPTIONS=${maint}" dpkg-buildflags --get ${v}
                    WORKING_DIRECTORY "${src}"
                    OUTPUT_VARIABLE val OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
    list(APPEND env "${v}=${val}")
  endforeach()
  set(args --build=${gnu_type} --prefix=${domsec_tuned_prefix} --disable-option-checking
           --disable-silent-rules --disable-maintainer-mode --disable-dependency-tracking
           ${debian_flags} ${DOMSEC_WOLFSSL_TUNED_FLAGS})
  list(JOIN args " " shown)
  message(NOTICE "-- wolfSSL tuned: ${srcpkg} ${version}: ./configure ${shown}")
  domsec_tuned_run(configure "${src}" env ${unset} ${env} ./configure ${args})
  # --enable-distro (Debian's) sets enable_shared=yes again after --disable-shared
  # (configure.ac: "if test "$ENABLED_DISTRO" = "yes"); only the static library is
  # used, so libtool builds that one alone: every file compiled once, with -fPIC.
  file(READ "${src}/libtool" lt)
  string(REGEX REPLACE "\nbuild_libtool_libs=yes\n" "\nbuild_libtool_libs=no\n" lt "${lt}")
  file(WRITE "${src}/libtool" "${lt}")
  cmake_host_system_information(RESULT ncpu QUERY NUMBER_OF_LOGICAL_CORES)
  domsec_tuned_run(make "${src}" make -j ${ncpu})
  # wolfCrypt's own known-answer tests, on this CPU's assembly paths (Debian's build runs
  # `make check`; this is its wolfCrypt part, a few seconds)
  domsec_tuned_run(testwolfcrypt "${src}" ./wolfcrypt/test/testwolfcrypt)
  domsec_tuned_run(make-install "${src}" make install)
  # `make install` leaves out the generated options.h; debian/libwolfssl-dev.install
  # installs it from the build tree, as here
  file(COPY "${src}/wolfssl/options.h" DESTINATION "${domsec_tuned_prefix}/include/wolfssl")
  file(COPY "${src}/cyassl/options.h" DESTINATION "${domsec_tuned_prefix}/include/cyassl")
  file(WRITE "${domsec_tuned_prefix}/domsec-configure.txt" "${srcpkg} ${version}\n${env}\n./configure ${shown}\n")
endfunction()

# The installed libwolfssl-dev names the source package and version to build.
execute_process(COMMAND dpkg-query -W "-f=\${Status}\t\${source:Package}\t\${source:Version}" libwolfssl-dev
                OUTPUT_VARIABLE domsec_q RESULT_VARIABLE domsec_rc ERROR_QUIET)
if(NOT domsec_rc EQUAL 0 OR NOT domsec_q MATCHES "^(install|hold) ok installed\t([^\t]+)\t([^\t]+)$")
  message(FATAL_ERROR "wolfSSL tuned: libwolfssl-dev is not installed (scripts/setup); "
                      "its version is the one built (dpkg-query: '${domsec_q}')")
endif()
# an upgrade of libwolfssl-dev rewrites its dpkg file list: configure again then
set(domsec_tuned_dpkg "/var/lib/dpkg/info/libwolfssl-dev.list")
if(NOT EXISTS "${domsec_tuned_dpkg}")
  set(domsec_tuned_dpkg "/var/lib/dpkg/status")    # Multi-Arch name: any dpkg change
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${domsec_tuned_dpkg}")
set(domsec_tuned_srcpkg "${CMAKE_MATCH_2}")
set(domsec_tuned_version "${CMAKE_MATCH_3}")
string(SHA256 domsec_tuned_key "${domsec_tuned_srcpkg} ${domsec_tuned_version} ${DOMSEC_WOLFSSL_TUNED_FLAGS} recipe ${domsec_tuned_recipe}")
string(SUBSTRING "${domsec_tuned_key}" 0 12 domsec_tuned_key)
string(REGEX REPLACE "[^A-Za-z0-9.+-]" "_" domsec_tuned_dir "${domsec_tuned_version}-${domsec_tuned_key}")
set(domsec_tuned_root "${CMAKE_BINARY_DIR}/_wolfssl-tuned/${domsec_tuned_dir}")
set(domsec_tuned_prefix "${domsec_tuned_root}/prefix")
set(domsec_tuned_stamp "${domsec_tuned_prefix}/domsec-tuned.key")
set(domsec_tuned_lib "${domsec_tuned_prefix}/lib/libwolfssl.a")

# held from the stamp check to the stamp write: another configure of this tree waits
file(MAKE_DIRECTORY "${CMAKE_BINARY_DIR}/_wolfssl-tuned")
file(LOCK "${domsec_tuned_root}.lock" GUARD FILE TIMEOUT 0 RESULT_VARIABLE domsec_lock_rc)
if(NOT domsec_lock_rc EQUAL 0)
  message(NOTICE "-- wolfSSL tuned: another configure of this build tree holds "
                 "${domsec_tuned_root}.lock; waiting (at most an hour)")
  file(LOCK "${domsec_tuned_root}.lock" GUARD FILE TIMEOUT 3600 RESULT_VARIABLE domsec_lock_rc)
endif()
if(NOT domsec_lock_rc EQUAL 0)
  message(FATAL_ERROR "wolfSSL tuned: cannot lock ${domsec_tuned_root}.lock: ${domsec_lock_rc}")
endif()
set(domsec_have "")
if(EXISTS "${domsec_tuned_stamp}")
  file(READ "${domsec_tuned_stamp}" domsec_have)
endif()
if(domsec_have STREQUAL domsec_tuned_key AND EXISTS "${domsec_tuned_lib}")
  message(STATUS "wolfSSL tuned: ${domsec_tuned_srcpkg} ${domsec_tuned_version}, cached in ${domsec_tuned_root}")
else()
  message(NOTICE "-- wolfSSL tuned: building ${domsec_tuned_srcpkg} ${domsec_tuned_version} "
                 "into ${domsec_tuned_root} (once; several minutes)")
  domsec_tuned_build("${domsec_tuned_srcpkg}" "${domsec_tuned_version}")
  foreach(f "${domsec_tuned_lib}" "${domsec_tuned_prefix}/include/wolfssl/options.h")
    if(NOT EXISTS "${f}")
      message(FATAL_ERROR "wolfSSL tuned: the build left no ${f}")
    endif()
  endforeach()
  file(WRITE "${domsec_tuned_stamp}" "${domsec_tuned_key}")
  # only prefix/ (and log/) is used from now on: the download, the unpacked source
  # with its objects and dpkg-source's copy of the tarball are ~210 MB
  file(GLOB domsec_orig "${domsec_tuned_root}/*.orig.tar.*")
  file(REMOVE_RECURSE "${domsec_tuned_root}/dl" "${domsec_tuned_root}/src" ${domsec_orig})
endif()
file(LOCK "${domsec_tuned_root}.lock" RELEASE)
set(DOMSEC_WOLFSSL_LIBRARY "${domsec_tuned_lib}" CACHE INTERNAL
    "the static wolfSSL domsec links (tests/integration/test_symbol_clash.py reads it)")

find_package(Threads REQUIRED)
add_library(PkgConfig::WOLFSSL STATIC IMPORTED)
set_target_properties(PkgConfig::WOLFSSL PROPERTIES
  IMPORTED_LOCATION "${domsec_tuned_lib}"
  IMPORTED_NO_SYSTEM ON                       # -I: before any other directory
  INTERFACE_INCLUDE_DIRECTORIES "${domsec_tuned_prefix}/include"
  INTERFACE_LINK_LIBRARIES "Threads::Threads;m"
  # its symbols stay out of the executables' dynamic symbol tables, so no shared library
  # loaded beside them (libcrypto.so.3 through libcurl's libssh2) ever binds to them
  INTERFACE_LINK_OPTIONS "LINKER:--exclude-libs,libwolfssl.a")

# domsec_wolfssl_tuned_tests() - the ctest that proves what domsecd and domsec link
function(domsec_wolfssl_tuned_tests)
  add_executable(wolfssl_tuned_check cmake/wolfssl_tuned_check.c)
  target_link_libraries(wolfssl_tuned_check PRIVATE PkgConfig::WOLFSSL)
  add_test(NAME wolfssl/tuned
           COMMAND ${CMAKE_COMMAND} -DCHECK=$<TARGET_FILE:wolfssl_tuned_check>
                   "-DBINARIES=$<TARGET_FILE:domsecd>;$<TARGET_FILE:domsec>;$<TARGET_FILE:wolfssl_tuned_check>"
                   -DVERSION=${domsec_tuned_version}
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/WolfSSLTunedCheck.cmake)
endfunction()
