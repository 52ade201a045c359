# Sourced by the load scripts (after they set $repo): which hotline binary runs, waiting for
# the switch they started ($switch_pid, writing $work/switch.out and $work/switch.log) to be
# ready, and stopping it. NAME prefixes every message.

# hotline_binary NAME -> $bin: $HOTLINE_BIN, else a release build of this tree.
hotline_binary() {
    if [ -n "${HOTLINE_BIN:-}" ]; then
        bin="$HOTLINE_BIN"
    else
        command -v cargo >/dev/null || { echo "$1: cargo is not installed" >&2; exit 1; }
        echo "$1: building release..." >&2
        cargo build --release --locked --bin hotline >&2
        bin="${CARGO_TARGET_DIR:-$repo/target}/release/hotline"
    fi
}

# wait_ready NAME -> $ready (the switch's ready line) and $sip (its SIP address), or exits
# when the switch exits first or is not ready within 30 s.
wait_ready() {
    ready=""
    for _ in $(seq 300); do
        ready="$(grep -m1 '^hotline ready' "$work/switch.out" || true)"
        [ -n "$ready" ] && break
        kill -0 "$switch_pid" 2>/dev/null || { echo "$1: the switch exited:" >&2; tail -20 "$work/switch.log" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$ready" ] || { echo "$1: no ready line within 30 s" >&2; exit 1; }
    sip="$(sed -n 's/.*sip=\([^ ]*\).*/\1/p' <<<"$ready")"
}

# stop_switch: SIGTERM, up to 5 s for a clean exit, then SIGKILL.
stop_switch() {
    if [ -n "$switch_pid" ] && kill -0 "$switch_pid" 2>/dev/null; then
        kill -TERM "$switch_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$switch_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$switch_pid" 2>/dev/null || true
    fi
}
