#!/usr/bin/env bash
# scripts/check-package.sh — installs the msao-agent .deb built by scripts/package.sh (root
# needed), checks its systemd unit (`systemd-analyze verify`: any output fails; `security
# --offline=yes`: the exposure is printed and must be "OK" or better), runs the installed
# agent as its service user against the installed config, then removes and purges the
# package and checks nothing of it is left.
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(ls -t target/debian/msao-agent_*.deb | head -1)
unit=/lib/systemd/system/msao-agent.service
[[ -e $unit ]] || unit=/usr/lib/systemd/system/msao-agent.service
echo "check-package: installing $deb"
dpkg -i "$deb"
[[ -e $unit ]] || unit=/usr/lib/systemd/system/msao-agent.service
getent passwd msao-agent >/dev/null || { echo "check-package: no msao-agent user" >&2; exit 1; }
[[ -e /etc/msao-agent/agent.toml ]] || { echo "check-package: no config" >&2; exit 1; }

echo "check-package: systemd-analyze verify $unit"
out=$(systemd-analyze verify "$unit" 2>&1 || true)
if [[ -n $out ]]; then
    echo "$out" >&2
    echo "check-package: systemd-analyze verify printed the above; failing" >&2
    exit 1
fi
echo "check-package: systemd-analyze security --offline=yes"
sec=$(systemd-analyze security --offline=yes "$unit" 2>&1 | tail -1)
echo "  $sec"
if ! grep -Eq "exposure level for msao-agent.service: [0-9.]+ (OK|SAFE)" <<<"$sec"; then
    echo "check-package: exposure above OK" >&2
    exit 1
fi

echo "check-package: the installed agent, as its user, against the installed config (5 s)"
(cd / && runuser -u msao-agent -- env MSAO_MODELS_DIR=/usr/share/msao-agent/models \
    /usr/bin/msao-agent --config /etc/msao-agent/agent.toml --duration 5s) 2>&1 | tail -5

echo "check-package: msao-agent check, as the service user"
(cd / && runuser -u msao-agent -- /usr/bin/msao-agent check --config /etc/msao-agent/agent.toml)

echo "check-package: remove and purge"
dpkg -r msao-agent
dpkg -P msao-agent
left=$(ls /usr/bin/msao-agent /usr/share/msao-agent /etc/msao-agent "$unit" 2>/dev/null || true)
if [[ -n $left ]]; then
    echo "check-package: left behind: $left" >&2
    exit 1
fi
echo "check-package: ok"
