# Run by `cmake --install` and cpack (cmake/install.cmake), with CMAKE_INSTALL_PREFIX the prefix
# installed into: the systemd unit with ExecStart for that prefix, the example configuration
# (kept when one is there already) and the man page, compressed.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc /etc)
else()
  set(etc "${CMAKE_INSTALL_PREFIX}/etc")
endif()
set(src "${RUNCELL_INSTALL_SOURCE_DIR}")
set(gen "${RUNCELL_INSTALL_BINARY_DIR}/install-generated")
file(MAKE_DIRECTORY "${gen}")

# runcell.service: the checkout's unit with this prefix's runcell and the installed config
file(READ "${src}/scripts/systemd/runcell.service" unit)
string(REGEX REPLACE "\nExecStart=[^\n]*"
  "\nExecStart=${CMAKE_INSTALL_PREFIX}/bin/runcell serve --config ${etc}/runcell/config.json"
  unit "${unit}")
string(FIND "${unit}" "\nExecStart=${CMAKE_INSTALL_PREFIX}/bin/runcell serve --config" at)
if(at EQUAL -1)
  message(FATAL_ERROR "scripts/systemd/runcell.service has no ExecStart= line")
endif()
file(WRITE "${gen}/runcell.service" "${unit}")
set(unit_dir "${RUNCELL_INSTALL_UNIT_DIR}")
if(NOT IS_ABSOLUTE "${unit_dir}")
  set(unit_dir "${CMAKE_INSTALL_PREFIX}/${unit_dir}")
endif()
file(INSTALL "${gen}/runcell.service" DESTINATION "${unit_dir}"
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# config.json: an administrator's edited copy is never written over
if(EXISTS "$ENV{DESTDIR}${etc}/runcell/config.json")
  message(STATUS "Kept: $ENV{DESTDIR}${etc}/runcell/config.json "
    "(the example is ${src}/packaging/config.json)")
else()
  file(INSTALL "${src}/packaging/config.json" DESTINATION "${etc}/runcell"
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()

# runcell(1), gzip'ed as Debian wants it (plain without gzip); runcell-serve(1) and
# runcell-build-rootfs(1) are the same page
set(man_dir "${CMAKE_INSTALL_PREFIX}/share/man/man1")
find_program(RUNCELL_GZIP gzip)
if(RUNCELL_GZIP)
  execute_process(COMMAND "${RUNCELL_GZIP}" -9 -n -c "${src}/docs/runcell.1"
    OUTPUT_FILE "${gen}/runcell.1.gz" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip docs/runcell.1: ${rc}")
  endif()
  set(page runcell.1.gz)
  file(INSTALL "${gen}/runcell.1.gz" DESTINATION "${man_dir}"
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
else()
  set(page runcell.1)
  file(INSTALL "${src}/docs/runcell.1" DESTINATION "${man_dir}"
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()
foreach(alias runcell-serve runcell-build-rootfs)
  string(REPLACE "runcell." "${alias}." link "${page}")
  file(REMOVE "${gen}/${link}")
  file(CREATE_LINK "${page}" "${gen}/${link}" SYMBOLIC)
  file(INSTALL "${gen}/${link}" DESTINATION "${man_dir}")
endforeach()
