# Installing labctl (cmake --install, DESTDIR staging) and its Debian package (cpack -G DEB).
#
#   bin/labctl
#   share/labctl/{initrd,configs,templates,scenarios,kmod}   what data_dir() finds
#   share/man/man1/labctl.1.gz                               from --help (scripts/help-docs.py)
#   share/bash-completion/completions/labctl                 from --help (the same script)
#   share/doc/labctl/                                        README, docs/, the CI recipes
#
# The binary finds share/labctl relative to itself (config/data_dir.cpp), so the prefix can
# move after installing and DESTDIR staging needs nothing more.

find_package(Python3 REQUIRED COMPONENTS Interpreter)
find_program(LABCTL_GZIP gzip REQUIRED)

# The man page and the completion, made from the built labctl's --help.
set(labctl_docs_dir ${PROJECT_BINARY_DIR}/docs)
add_custom_command(
  OUTPUT ${labctl_docs_dir}/labctl.1 ${labctl_docs_dir}/labctl.1.gz ${labctl_docs_dir}/labctl.bash
  COMMAND ${CMAKE_COMMAND} -E make_directory ${labctl_docs_dir}
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/help-docs.py $<TARGET_FILE:labctl>
          --man ${labctl_docs_dir}/labctl.1 --completion ${labctl_docs_dir}/labctl.bash
  COMMAND ${LABCTL_GZIP} -9nkf ${labctl_docs_dir}/labctl.1
  DEPENDS labctl ${PROJECT_SOURCE_DIR}/scripts/help-docs.py
  COMMENT "labctl.1 and the bash completion from labctl --help")
add_custom_target(labctl_docs ALL DEPENDS ${labctl_docs_dir}/labctl.1.gz
                                          ${labctl_docs_dir}/labctl.bash)

install(TARGETS labctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY initrd configs templates scenarios kmod
        DESTINATION ${CMAKE_INSTALL_DATADIR}/labctl)
install(FILES ${labctl_docs_dir}/labctl.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${labctl_docs_dir}/labctl.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME labctl)
install(FILES README.md ARCHITECTURE.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})

# cpack -G DEB (from the build folder): labctl_<version>_<arch>.deb for Debian 12.
set(CPACK_PACKAGE_NAME labctl)
set(CPACK_PACKAGE_VENDOR labctl)
set(CPACK_PACKAGE_CONTACT "labctl maintainers <labctl@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "kernel-module VM lab: build a module, boot it in QEMU, drive the guest, judge it")
set(CPACK_PACKAGE_DESCRIPTION
    "labctl builds a Linux kernel module against an installed kernel with kbuild, packs a "
    "busybox initrd that loads it, boots qemu-system-x86_64 (KVM when it works, else TCG), "
    "runs a scenario's steps in the guest over a serial control channel and judges the "
    "result: exit codes and output, the kernel log, kernel faults and the debugcon port.")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The shared libraries (libarchive, re2, spdlog, ...) from dpkg-shlibdeps; what a run
# execs by name: QEMU, busybox for the initrd, depmod/modinfo (kmod), kbuild (make, gcc and
# the kernel headers; pahole from dwarves for 6.12's BTF), a kernel image to boot, patch
# for DKMS folders.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "qemu-system-x86, busybox-static, kmod, linux-image-amd64, linux-headers-amd64, dwarves, make, gcc, libc6-dev, patch")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "gdb, bash-completion")
include(CPack)
