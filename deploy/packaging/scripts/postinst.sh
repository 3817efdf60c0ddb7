#!/bin/sh
# postinst of {{.Name}} (deb: configure [old-version]; rpm: 1 = install, 2 = upgrade): create the service user,
# give it its state directory, enable the unit. Nothing unconfigured is started: {{if .StartWhen}}the agent
# starts only once its token file {{.StartWhen}} exists{{else}}the server is only restarted on upgrade when it
# was running; start it with `systemctl start {{.Unit}}`{{end}}. Tolerates systemd not running (containers,
# chroots).
set -e
case "$1" in
  configure|1|2) ;;
  *) exit 0 ;;
esac
if ! getent passwd {{.User}} >/dev/null 2>&1; then
  useradd --system --user-group --no-create-home --home-dir {{.StateDir}} \
    --shell /usr/sbin/nologin --comment {{.User}} {{.User}}
fi
install -d -m 0750 -o {{.User}} -g {{.User}} {{.StateDir}}
chown -R {{.User}}:{{.User}} {{.StateDir}}
{{- range .GroupFiles}}
if [ -e {{.}} ]; then chgrp {{$.User}} {{.}} && chmod 0640 {{.}}; fi
{{- end}}
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
  systemctl enable {{.Unit}} || true
{{- if .StartWhen}}
  if [ -s {{.StartWhen}} ]; then
    systemctl restart {{.Unit}} || true
  else
    echo "{{.Name}}: enabled, not started: put the server URL in {{index .GroupFiles 0}} and the token in {{.StartWhen}}, then: systemctl start {{.Unit}}"
  fi
{{- else}}
  systemctl try-restart {{.Unit}} || true
{{- end}}
fi
exit 0
