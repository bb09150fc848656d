# The plugin SDK as installed: the public headers under
# <prefix>/include/crier and crier-plugin.pc under <libdir>/pkgconfig.
#
# The .pc file is written when installing, not when configuring, so that
# `cmake --install build --prefix DIR` gives a file whose prefix is DIR.

file(READ ${PROJECT_SOURCE_DIR}/include/crier/abi.h CRIER_ABI_HEADER)
string(REGEX MATCH "#define CRIER_ABI_VERSION +([0-9]+)" _ ${CRIER_ABI_HEADER})
set(CRIER_ABI_VERSION ${CMAKE_MATCH_1})
string(REGEX MATCH "#define CRIER_ABI_MINOR +([0-9]+)" _ ${CRIER_ABI_HEADER})
set(CRIER_ABI_MINOR ${CMAKE_MATCH_1})

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/crier
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

# Everything but @PREFIX@ is filled in now; the install step fills PREFIX.
set(PREFIX "@PREFIX@")
configure_file(${PROJECT_SOURCE_DIR}/cmake/crier-plugin.pc.in
               ${CMAKE_BINARY_DIR}/crier-plugin.pc.in @ONLY)
install(CODE "
  set(PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(pc_dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\")
  configure_file(\"${CMAKE_BINARY_DIR}/crier-plugin.pc.in\"
                 \"\${pc_dir}/crier-plugin.pc\" @ONLY)
  message(STATUS \"Installing: \${pc_dir}/crier-plugin.pc\")
")
