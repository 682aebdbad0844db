# cmake/WolfSSLTunedCheck.cmake - ctest wolfssl/tuned (cmake/WolfSSLTuned.cmake adds it):
#   cmake -DCHECK=wolfssl_tuned_check -DBINARIES="domsecd;domsec;..." -DVERSION=DEBVERSION -P this
# Fails unless: the check program (compiled against the tuned options.h, else it does
# not compile) reports the library and header version of the Debian source version and
# AES-NI in use; and each binary loads no libwolfssl.so (ldd), holds wolfSSL's x86-64
# assembly (AES-GCM AVX2, SP P-256 AVX2 in its symbol table) and exports no wolfSSL_*
# symbol (nm -D).

function(fail what)
  message(FATAL_ERROR "wolfssl/tuned: ${what}")
endfunction()

# 5.5.4-2+deb12u3 -> 5.5.4 (no epoch, no Debian revision)
string(REGEX REPLACE "^[0-9]+:" "" upstream "${VERSION}")
string(REGEX REPLACE "-[^-]*$" "" upstream "${upstream}")

execute_process(COMMAND "${CHECK}" OUTPUT_VARIABLE out RESULT_VARIABLE rc)
message("${CHECK}:\n${out}")
if(NOT rc EQUAL 0)
  fail("${CHECK} exited with ${rc}")
endif()
foreach(want "library ${upstream}" "header ${upstream}" "aesni 1")
  if(NOT out MATCHES "(^|\n)${want}\n")
    fail("${CHECK} did not print '${want}'")
  endif()
endforeach()

foreach(bin IN LISTS BINARIES)
  execute_process(COMMAND ldd "${bin}" OUTPUT_VARIABLE ldd RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT ldd MATCHES "libc\\.so")
    fail("ldd ${bin} failed (${rc})")
  endif()
  if(ldd MATCHES "libwolfssl")
    fail("${bin} loads a shared libwolfssl:\n${ldd}")
  endif()
  execute_process(COMMAND nm "${bin}" OUTPUT_VARIABLE syms RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    fail("nm ${bin} failed (${rc}; a stripped binary cannot be checked)")
  endif()
  foreach(sym AES_GCM_encrypt_avx2 sp_256_mul_avx2_4)
    if(NOT syms MATCHES "[0-9a-f]+ [Tt] ${sym}\n")
      fail("${bin} has no ${sym}: not the tuned wolfSSL's assembly")
    endif()
  endforeach()
  execute_process(COMMAND nm -D --defined-only "${bin}" OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
  if(dyn MATCHES "[ \n](wolfSSL_[A-Za-z0-9_]*)")
    fail("${bin} exports ${CMAKE_MATCH_1}: a shared library could bind to it")
  endif()
  message("${bin}: no libwolfssl.so, AES_GCM_encrypt_avx2 and sp_256_mul_avx2_4 linked, no wolfSSL_* exported")
endforeach()
