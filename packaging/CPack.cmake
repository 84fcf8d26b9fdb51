# packaging/CPack.cmake - Debian packages with CPack (`make deb`): one
# package per install component.
#
#   lib -> libcarnet0      the shared library (libcarnet.so.0*)
#   dev -> libcarnet-dev   headers, libcarnet.so, libcarnet.a, carnet.pc, CMake package
#   cli -> carnet          the command, its man pages, bash completion, systemd unit
#
# Runtime dependencies are computed by dpkg-shlibdeps from the ELF files
# (liblmdb0, libsodium23, libuv1...), never listed by hand; the -dev
# packages libcarnet-dev needs are found from carnet.pc's Requires (see
# below). Configure with CMAKE_INSTALL_PREFIX=/usr (as `make deb` does) so
# that GNUInstallDirs picks Debian's multiarch library directory.

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME carnet)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Carnet")
set(CARNET_DEB_MAINTAINER "Carnet maintainers <maintainers@users.noreply.h-seed-e0a0443f.example>"
    CACHE STRING "Maintainer field of the Debian packages")
set(CPACK_PACKAGE_CONTACT "${CARNET_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CARNET_DEB_MAINTAINER}")
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPackDeb would put it before each
# package's own first line (its synopsis, in CPACK_DEBIAN_<COMP>_DESCRIPTION).
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # name_version-release_arch.deb
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_STRIP_FILES ON) # static archives are left alone by CMake's strip rule
set(CARNET_DEB_VERSION "${CPACK_PACKAGE_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib dev cli)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps resolves libcarnet.so.0 (for a binary that links it) in the
# build tree, where the library is before it is packaged.
if(TARGET carnet)
  get_target_property(carnet_lib_dir carnet LIBRARY_OUTPUT_DIRECTORY)
  if(NOT carnet_lib_dir)
    get_target_property(carnet_lib_dir carnet BINARY_DIR)
  endif()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${carnet_lib_dir})
endif()

string(CONCAT CARNET_DEB_LONG
    "Carnet keeps the customer book of a small business (customers, contacts,\n"
    "consents, quotes, orders, invoices, commercial actions, reminders) on every\n"
    "device that needs it, works offline, and merges the changes of every\n"
    "device: each holds a full replica, stored as CRDTs in LMDB and encrypted at\n"
    "rest, and syncs directly with the others over an authenticated, encrypted\n"
    "connection, with no server.\n")

# libcarnet0: the shared library. Its shlibs file lets packages built
# against it depend on it (>= this version: the SONAME carries the ABI
# major); CPackDeb adds the ldconfig calls. (GENERATE_SHLIBS has no
# per-component form; only libcarnet0 holds a shared object.)
set(CPACK_DEBIAN_LIB_PACKAGE_NAME libcarnet0)
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
string(CONCAT CPACK_DEBIAN_LIB_DESCRIPTION
    "local-first sync engine for a customer book - shared library\n${CARNET_DEB_LONG}\n"
    "This package holds the shared library libcarnet.so.0, which applications\n"
    "embed to open a replica, read and write the book, and sync in process.")

# libcarnet-dev: everything to build against it. It needs the -dev packages
# of the modules carnet.pc requires (pkg-config reads their .pc files even
# for a shared link): they are found here, from the generated carnet.pc and
# the package that owns each module's .pc file, so that a module added to
# carnet.pc cannot be forgotten in the package.
set(carnet_dev_depends "libcarnet0 (= ${CARNET_DEB_VERSION})")
find_program(DPKG_QUERY_EXECUTABLE dpkg-query)
if(EXISTS ${CMAKE_BINARY_DIR}/carnet.pc AND DPKG_QUERY_EXECUTABLE AND PKG_CONFIG_EXECUTABLE)
  file(STRINGS ${CMAKE_BINARY_DIR}/carnet.pc pc_requires REGEX "^Requires(\\.private)?:")
  foreach(line ${pc_requires})
    string(REGEX REPLACE "^Requires(\\.private)?:" "" mods "${line}")
    string(REGEX REPLACE "[<>=!]+ *[^ ,]+" "" mods "${mods}") # version constraints
    string(REGEX REPLACE "[ ,]+" ";" mods "${mods}")
    foreach(mod ${mods})
      if(mod STREQUAL "")
        continue()
      endif()
      execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --path ${mod} OUTPUT_VARIABLE pc
                      OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
      if(rc EQUAL 0)
        execute_process(COMMAND ${DPKG_QUERY_EXECUTABLE} -S ${pc} OUTPUT_VARIABLE owner
                        OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
      endif()
      if(NOT rc EQUAL 0)
        message(WARNING "libcarnet-dev: no Debian package found for the pkg-config module ${mod} "
                        "that carnet.pc requires; the package will not depend on it")
        continue()
      endif()
      string(REGEX REPLACE "[:,].*" "" owner "${owner}") # "liblmdb-dev:amd64: /usr/..."
      string(APPEND carnet_dev_depends ", ${owner}")
    endforeach()
  endforeach()
endif()
# libphonenumber has no pkg-config module: carnet.pc names it in
# Libs.private (-lphonenumber), which a static link needs.
string(APPEND carnet_dev_depends ", libphonenumber-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libcarnet-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${carnet_dev_depends}")
string(CONCAT CPACK_DEBIAN_DEV_DESCRIPTION
    "local-first sync engine for a customer book - development files\n${CARNET_DEB_LONG}\n"
    "This package holds the headers, the static library, the pkg-config file\n"
    "(pkg-config carnet) and the CMake package (find_package(Carnet), target\n"
    "Carnet::carnet).")

# carnet: the command. It depends on libcarnet0 when it links the shared
# library; today it links libcarnet.a (it reaches internal functions), so
# dpkg-shlibdeps' list is the whole of it.
set(CPACK_DEBIAN_CLI_PACKAGE_NAME carnet)
set(CPACK_DEBIAN_CLI_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_CLI_PACKAGE_SUGGESTS bash-completion)
if(TARGET carnet-cli)
  get_target_property(cli_links carnet-cli LINK_LIBRARIES)
  if("carnet" IN_LIST cli_links OR "Carnet::carnet" IN_LIST cli_links)
    set(CPACK_DEBIAN_CLI_PACKAGE_DEPENDS "libcarnet0 (= ${CARNET_DEB_VERSION})")
  endif()
endif()
set(CPACK_DEBIAN_CLI_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_SOURCE_DIR}/debian/carnet/postinst ${CMAKE_CURRENT_SOURCE_DIR}/debian/carnet/prerm
    ${CMAKE_CURRENT_SOURCE_DIR}/debian/carnet/postrm)
set(CPACK_DEBIAN_CLI_PACKAGE_CONTROL_STRICT_PERMISSION ON)
string(CONCAT CPACK_DEBIAN_CLI_DESCRIPTION
    "local-first sync engine for a customer book - command-line tool\n${CARNET_DEB_LONG}\n"
    "This package holds the carnet command (customers, contacts, consents,\n"
    "documents, actions, reminders, import and export, duplicates, GDPR\n"
    "erasure, sync over the network or through a file), its man pages and bash\n"
    "completion, and carnet.service, a systemd unit for an always-on office\n"
    "replica (not enabled on installation).")

# Every package carries /usr/share/doc/PACKAGE/copyright (Debian policy
# 12.5). The source tree has no licence file yet: until it has one
# (LICENSE at its root, copied as is), the file says so rather than guess.
if(EXISTS ${CMAKE_SOURCE_DIR}/LICENSE)
  file(READ ${CMAKE_SOURCE_DIR}/LICENSE carnet_license)
  set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_SOURCE_DIR}/LICENSE)
else()
  string(CONCAT carnet_license
      "No licence has been chosen for Carnet yet: the source tree has no LICENSE\n"
      "file. Ask the maintainers (${CARNET_DEB_MAINTAINER}) before\n"
      "redistributing it.\n")
endif()
foreach(pair lib:libcarnet0 dev:libcarnet-dev cli:carnet)
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 component)
  list(GET pair 1 package)
  file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/doc/${package}/copyright
       CONTENT "Carnet: local-first sync engine for a customer book\nCopyright: the Carnet authors\n\n${carnet_license}"
       @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/doc/${package}/copyright
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package} COMPONENT ${component})
endforeach()

include(CPack)
