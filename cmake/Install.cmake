# cmake/Install.cmake - `make install` / `cmake --install`: the library,
# its headers, carnet.pc, the CMake package and the carnet binary, under
# CMAKE_INSTALL_PREFIX (default /usr/local), DESTDIR honoured. Components
# map to the Debian packages (packaging/CPack.cmake): lib -> libcarnet0,
# dev -> libcarnet-dev, cli -> carnet.
include(CMakePackageConfigHelpers)

# The binary finds the library next to it (../lib) when installed to a
# private prefix; under /usr the system's search path does it.
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set_target_properties(carnet-cli PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
endif()

install(TARGETS carnet EXPORT CarnetTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS carnet_static ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/carnet DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        COMPONENT dev FILES_MATCHING PATTERN "*.h")
install(TARGETS carnet-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)

# pkg-config: relocatable, the prefix found from where carnet.pc lies
# (${pcfiledir}), so `cmake --install --prefix ANY` and DESTDIR staging both
# give a carnet.pc that points at the files next to it.
set(CARNET_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  message(FATAL_ERROR "CMAKE_INSTALL_LIBDIR must be relative to the prefix")
endif()
file(RELATIVE_PATH CARNET_PC_UP /x/${CARNET_PC_DIR} /x)
string(REGEX REPLACE "/$" "" CARNET_PC_UP "${CARNET_PC_UP}")
set(CARNET_PC_PREFIX "\${pcfiledir}/${CARNET_PC_UP}")
# A system install (the Debian packages) gets plain absolute paths, which
# pkg-config recognises as the system's and leaves out of the flags.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(CARNET_PC_PREFIX "/usr")
endif()
set(CARNET_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
set(CARNET_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/carnet.pc.in ${CMAKE_BINARY_DIR}/carnet.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/carnet.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT dev)

set(CARNET_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/Carnet)
install(EXPORT CarnetTargets NAMESPACE Carnet:: FILE CarnetTargets.cmake
        DESTINATION ${CARNET_CMAKE_DIR} COMPONENT dev)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/CarnetConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/CarnetConfig.cmake
                              INSTALL_DESTINATION ${CARNET_CMAKE_DIR})
# Within a major version the ABI holds (the SONAME carries the major).
write_basic_package_version_file(${CMAKE_BINARY_DIR}/CarnetConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/CarnetConfig.cmake ${CMAKE_BINARY_DIR}/CarnetConfigVersion.cmake
        DESTINATION ${CARNET_CMAKE_DIR} COMPONENT dev)
