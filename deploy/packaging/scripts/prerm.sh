#!/bin/sh
# prerm of {{.Name}} (deb: remove|upgrade|...; rpm: 0 = erase, 1 = upgrade): stop and disable the service when
# the package goes away; an upgrade leaves it running for postinst to restart.
set -e
case "$1" in
  remove|deconfigure|0)
    if [ -d /run/systemd/system ]; then
      systemctl disable --now {{.Unit}} || true
    fi
    ;;
esac
exit 0
