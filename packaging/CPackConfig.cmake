# Install rules for the systemd units and examples, and the Debian package (CPack DEB).
# Included from the top-level CMakeLists.txt.
#
#   cmake --build build && (cd build && cpack -G DEB)     ->  build/mysql2mongo_<version>_<arch>.deb
#
# What goes where is decided at install time from the install prefix, so one build tree serves both a
# plain `cmake --install` and the package:
#   prefix /usr (the .deb, or `cmake --install build --prefix /usr`):
#     units in /lib/systemd/system (Debian 12's systemdsystemunitdir), the example configuration as
#     /etc/mysql2mongo/config.toml (a conffile in the .deb; never overwritten by `cmake --install`);
#   any other prefix (/usr/local by default):
#     units in <prefix>/lib/systemd/system with ExecStart pointing at <prefix>/bin/mysql2mongo, and no
#     file under /etc (mysql2mongo reads /etc/mysql2mongo/config.toml, not <prefix>/etc).
# Always: the examples (config.toml, crontab, sync.env) in <prefix>/share/doc/mysql2mongo/examples, and
# the bash completion in <prefix>/share/bash-completion/completions.

set(MYSQL2MONGO_PACKAGING_DIR ${CMAKE_CURRENT_LIST_DIR})

option(MYSQL2MONGO_INSTALL_SYSTEMD_UNITS "Install the systemd service and timer units" ON)
set(MYSQL2MONGO_SYSTEMD_UNIT_DIR "" CACHE PATH
    "Where to install the systemd units; empty: /lib/systemd/system for prefix /usr, else <prefix>/lib/systemd/system")

set(MYSQL2MONGO_UNITS mysql2mongo.service mysql2mongo.timer mysql2mongo-full.service mysql2mongo-verify.service
    mysql2mongo-verify.timer mysql2mongo@.service mysql2mongo@.timer)

install(FILES
          ${MYSQL2MONGO_PACKAGING_DIR}/config.example.toml
          ${MYSQL2MONGO_PACKAGING_DIR}/crontab.example
          ${MYSQL2MONGO_PACKAGING_DIR}/sync.env.example
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# Bash completion of the commands and flags, where bash-completion looks for it (loaded on demand).
install(FILES ${MYSQL2MONGO_PACKAGING_DIR}/bash-completion/mysql2mongo
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)

# The units' ExecStart= names /usr/bin/mysql2mongo; for another prefix, the copies installed name
# <prefix>/bin/mysql2mongo instead. Generated at install time, when the prefix is known.
if(MYSQL2MONGO_INSTALL_SYSTEMD_UNITS)
  set(_m2m_units_src "")
  foreach(unit ${MYSQL2MONGO_UNITS})
    list(APPEND _m2m_units_src "${MYSQL2MONGO_PACKAGING_DIR}/${unit}")
  endforeach()
  install(CODE "
    set(_m2m_prefix \"\${CMAKE_INSTALL_PREFIX}\")
    string(REGEX REPLACE \"/+$\" \"\" _m2m_prefix \"\${_m2m_prefix}\")
    set(_m2m_unit_dir \"${MYSQL2MONGO_SYSTEMD_UNIT_DIR}\")
    if(NOT _m2m_unit_dir)
      if(_m2m_prefix STREQUAL \"/usr\")
        set(_m2m_unit_dir /lib/systemd/system)
      else()
        set(_m2m_unit_dir \"\${_m2m_prefix}/lib/systemd/system\")
      endif()
    endif()
    string(MD5 _m2m_key \"\$ENV{DESTDIR}|\${_m2m_prefix}\")
    set(_m2m_stage \"${CMAKE_CURRENT_BINARY_DIR}/packaging-units/\${_m2m_key}\")
    file(MAKE_DIRECTORY \"\${_m2m_stage}\")
    foreach(_m2m_src ${_m2m_units_src})
      get_filename_component(_m2m_name \"\${_m2m_src}\" NAME)
      file(READ \"\${_m2m_src}\" _m2m_text)
      string(REPLACE \"/usr/bin/mysql2mongo\" \"\${_m2m_prefix}/bin/mysql2mongo\" _m2m_text \"\${_m2m_text}\")
      file(WRITE \"\${_m2m_stage}/\${_m2m_name}\" \"\${_m2m_text}\")
      file(INSTALL DESTINATION \"\${_m2m_unit_dir}\" TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
           FILES \"\${_m2m_stage}/\${_m2m_name}\")
    endforeach()
  ")
endif()

# /etc/mysql2mongo/config.toml, for prefix /usr only, and never over an existing file (the package
# manager handles conffile upgrades; a plain install must not clobber an administrator's settings).
install(CODE "
  set(_m2m_prefix \"\${CMAKE_INSTALL_PREFIX}\")
  string(REGEX REPLACE \"/+$\" \"\" _m2m_prefix \"\${_m2m_prefix}\")
  if(_m2m_prefix STREQUAL \"/usr\")
    if(EXISTS \"\$ENV{DESTDIR}/etc/mysql2mongo/config.toml\")
      message(STATUS \"Keeping existing: \$ENV{DESTDIR}/etc/mysql2mongo/config.toml\")
    else()
      file(INSTALL DESTINATION /etc/mysql2mongo TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
           RENAME config.toml FILES \"${MYSQL2MONGO_PACKAGING_DIR}/config.example.toml\")
    endif()
  endif()
")

# ---------------------------------------------------------------------------------------------------
# CPack: the Debian package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mysql2mongo)
set(CPACK_PACKAGE_VENDOR "The mysql2mongo developers")
set(CPACK_PACKAGE_CONTACT "mysql2mongo maintainers <maintainers@users.noreply.b-seed-43257881.example>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
# The long description, wrapped as Debian's control files want it.
string(JOIN "\n" CPACK_PACKAGE_DESCRIPTION
  "mysql2mongo copies the tables of a MySQL or MariaDB database into a MongoDB"
  "database, one collection per table, and on later runs copies only the rows"
  "that changed. It is a single short-lived command started by a systemd timer"
  "or cron, with its own run lock."
  ""
  "This package ships the command, its manual pages, systemd units"
  "(mysql2mongo.timer and mysql2mongo.service for an incremental sync every"
  "5 minutes, mysql2mongo-full.service for the initial load,"
  "mysql2mongo-verify.timer and mysql2mongo-verify.service to check daily that"
  "MongoDB equals MySQL) and an example"
  "configuration, /etc/mysql2mongo/config.toml, that changes no default.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_STRIP_FILES ON)

# Files go to /usr (the binary to /usr/bin, as the units' ExecStart= says); DESTDIR staging lets the
# absolute destinations (/etc/mysql2mongo, /lib/systemd/system) land in the package, not on this machine.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

set(CPACK_DEBIAN_PACKAGE_NAME mysql2mongo)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mariadb-client")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${MYSQL2MONGO_PACKAGING_DIR}/deb/conffiles
    ${MYSQL2MONGO_PACKAGING_DIR}/deb/postinst
    ${MYSQL2MONGO_PACKAGING_DIR}/deb/prerm
    ${MYSQL2MONGO_PACKAGING_DIR}/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Debian policy: compressed manual pages and a copyright file.
set(CPACK_PRE_BUILD_SCRIPTS ${MYSQL2MONGO_PACKAGING_DIR}/deb/prebuild.cmake)
set(CPACK_MYSQL2MONGO_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
# Debian's changelog format; its first version must be the package's (tests/packaging/test_deb.sh).
set(CPACK_MYSQL2MONGO_CHANGELOG ${MYSQL2MONGO_PACKAGING_DIR}/deb/changelog)

include(CPack)
