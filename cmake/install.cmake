# What `cmake --install` puts under the prefix beyond the binaries, toolchains, seccomp profiles
# and the playground (CMakeLists.txt), and the Debian package `cpack -G DEB` makes of it
# (README.md, "Install"; runcell(1)). tests/install/run checks both.
#
#   PREFIX/bin/runcell-build-rootfs          runs share/runcell/build-rootfs
#   PREFIX/share/runcell/build-rootfs        scripts/build-rootfs: its recipes are ../rootfs of
#   PREFIX/share/runcell/rootfs/             its own directory (share/runcell/rootfs)
#   PREFIX/share/runcell/cgroup-delegate     scripts/cgroup-delegate
#   PREFIX/lib/systemd/system/runcell.service  scripts/systemd/runcell.service, ExecStart for
#                                            this prefix and its configuration
#   /etc/runcell/config.json                 packaging/config.json (PREFIX/etc/runcell/ when
#                                            the prefix is not /usr); an existing one is kept
#   PREFIX/share/man/man1/runcell.1.gz       docs/runcell.1 (and runcell-serve.1.gz,
#                                            runcell-build-rootfs.1.gz linked to it)
#   PREFIX/share/doc/runcell/                README.md, docs/*.md and the Grafana dashboard
#                                            (grafana/runcell-dashboard.json), HAProxy's config
#                                            for several nodes (haproxy/runcell.cfg)
#
# The installed runcell finds share/runcell/toolchains and seccomp-profiles from its own
# directory (src/config.c: EXE/../share/runcell/...), so an installed tree works without the
# checkout, wherever it was moved.

set(RUNCELL_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
  "where the systemd unit is installed (relative: under the prefix)")

install(DIRECTORY rootfs/ DESTINATION share/runcell/rootfs)
install(PROGRAMS scripts/build-rootfs scripts/cgroup-delegate DESTINATION share/runcell)
install(PROGRAMS packaging/runcell-build-rootfs DESTINATION bin)
file(GLOB RUNCELL_DOCS CONFIGURE_DEPENDS docs/*.md)
install(FILES README.md ${RUNCELL_DOCS} DESTINATION share/doc/runcell)
install(DIRECTORY docs/grafana/ DESTINATION share/doc/runcell/grafana)
install(FILES packaging/haproxy/runcell.cfg DESTINATION share/doc/runcell/haproxy)

# The unit, the configuration and the man page are written at install time, for the prefix
# installed into (`cmake --install --prefix P`; cpack's is /usr): cmake/install-service.cmake.
install(CODE "set(RUNCELL_INSTALL_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
set(RUNCELL_INSTALL_BINARY_DIR \"${CMAKE_BINARY_DIR}\")
set(RUNCELL_INSTALL_UNIT_DIR \"${RUNCELL_SYSTEMD_UNIT_DIR}\")")
install(SCRIPT cmake/install-service.cmake)

# The Debian package: `cpack -G DEB` in the build directory (tests/install/run) makes
# runcell_VERSION-1_ARCH.deb, always for /usr (whatever CMAKE_INSTALL_PREFIX says: the binaries
# find their data from their own directory). Depends: Debian 12's runtime packages of the
# libraries linked (checked with dpkg -S on their .so files), adduser for postinst, and what
# runcell-build-rootfs runs. The maintainer scripts are packaging/debian/.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME runcell)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR runcell)
set(CPACK_PACKAGE_CONTACT "runcell maintainers <runcell@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "rootless code-execution sandbox server")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# the long description (CPack puts the summary above it)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "runcell compiles and runs source code in one of many languages in a sandbox it
builds itself (user, pid, mount, network namespaces, a read-only Debian root
filesystem per language, cgroup limits, seccomp), from the command line
(runcell run, runcell judge) or as an HTTP and WebSocket server (runcell serve,
runcell.service) that also speaks other code runners' APIs.

The languages' root filesystems are built after installation with
runcell-build-rootfs (see runcell(1)).")
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "libc6 (>= 2.34), libseccomp2, libcgroup2, libwebsockets17, libcjson1, libsqlite3-0, libpq5, zlib1g, adduser, mmdebstrap, zstd, uidmap")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/packaging/debian/conffiles
  ${CMAKE_SOURCE_DIR}/packaging/debian/postinst
  ${CMAKE_SOURCE_DIR}/packaging/debian/prerm
  ${CMAKE_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_SOURCE_GENERATOR "")
include(CPack)
