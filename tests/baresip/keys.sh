#!/usr/bin/env bash
# Presses a key of a baresip desk phone started by agent.sh with CONTROL=PORT, through its
# ctrl_tcp module (netstring-framed JSON), and prints baresip's answer.
#
#   tests/baresip/keys.sh PORT hold              # the phone's hold key
#   tests/baresip/keys.sh PORT resume
#   tests/baresip/keys.sh PORT transfer 8002     # blind transfer (REFER) to the support queue
#   tests/baresip/keys.sh PORT transfer 1002     # ... or to extension 1002
#   tests/baresip/keys.sh PORT hangup
#
# A bare number is sent to the switch the phone registered with (SWITCH, default
# 127.0.0.1:5060). Needs only bash.
set -euo pipefail

port="${1:?usage: keys.sh PORT COMMAND [ARGUMENT]}"
command="${2:?usage: keys.sh PORT COMMAND [ARGUMENT]}"
argument="${3:-}"
case "$port" in
    ''|*[!0-9]*) echo "keys.sh: PORT must be the agent's CONTROL port number, not '$port'" >&2; exit 2 ;;
esac
case "$command" in
    hold|resume|hangup|transfer) ;;
    *) echo "keys.sh: COMMAND is hold, resume, transfer or hangup, not '$command'" >&2; exit 2 ;;
esac
if [ "$command" = transfer ]; then
    case "$argument" in
        '') echo "keys.sh: transfer needs a number or SIP URI" >&2; exit 2 ;;
        sip:*) ;;
        *[!0-9*#]*) echo "keys.sh: '$argument' is neither a number nor a sip: URI" >&2; exit 2 ;;
        *) argument="sip:$argument@${SWITCH:-127.0.0.1:5060}" ;;
    esac
fi
json="{\"command\":\"$command\",\"params\":\"$argument\",\"token\":\"keys\"}"
exec 3<>"/dev/tcp/127.0.0.1/$port" || {
    echo "keys.sh: nothing listens on 127.0.0.1:$port (start agent.sh with CONTROL=$port)" >&2
    exit 1
}
printf '%d:%s,' "${#json}" "$json" >&3
# The answer (and any call events baresip pushes meanwhile) for a second.
timeout 1 cat <&3 | grep -o '{"response"[^}]*}' | head -n 1 || true
exec 3<&-
