#!/bin/sh
# postrm of {{.Name}} (deb: remove|purge|...; rpm: 0 = erase, 1 = upgrade). On purge (deb only; rpm never
# deletes users) remove {{if .PurgeStateDir}}the state directory, {{end}}files written after installation
# and the service user.
set -e
case "$1" in
  purge)
{{- if .PurgeStateDir}}
    rm -rf {{.StateDir}}
{{- else}}
    if [ -d {{.StateDir}} ]; then
      echo "{{.Name}}: data kept in {{.StateDir}}; delete it by hand if it is no longer needed"
    fi
{{- end}}
{{- range .PurgeFiles}}
    rm -f {{.}}
{{- end}}
    rmdir /etc/zhizhi 2>/dev/null || true
    if getent passwd {{.User}} >/dev/null 2>&1; then userdel {{.User}} || true; fi
    if getent group {{.User}} >/dev/null 2>&1; then groupdel {{.User}} || true; fi
    ;;
esac
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
exit 0
