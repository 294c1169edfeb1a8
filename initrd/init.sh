#!/bin/sh
# labctl guest /init (busybox sh, PID 1). A template: labctl replaces the line
# holding only the modules placeholder with one `labctl_load NAME PATH PARAMS...`
# line per module (cli/src/image/init_script.cpp).
#
# ttyS0 is the kernel console; ttyS1 is the control channel to the host, moved
# to /run/labctl/ctl. The boot report and the protocol: docs/protocol.md.
#
# PID 1 must never die (that is "Attempted to kill init"), so nothing here runs
# a step: the agent (lib/labctl/agent.sh) runs in its own session and is
# respawned forever.

export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/
umask 022
set -f

mkdir -p /proc /sys /dev /tmp /run
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -m 0700 /run/labctl
# The kernel may have started us without /dev/console in the initrd.
exec </dev/console >/dev/console 2>&1
mdev -s

BOOT=
read -r cmdline </proc/cmdline
for word in $cmdline; do
	case $word in
	labctl.boot=*) BOOT=${word#labctl.boot=} ;;
	esac
done
[ -n "$BOOT" ] || echo "labctl init: no labctl.boot= on the kernel command line"

# The control tty under a private name: a step's `> /dev/ttyS1` then fails
# instead of mixing its bytes into an answer.
CTL=/run/labctl/ctl
read -r ctl_dev </sys/class/tty/ttyS1/dev
mknod -m 0600 "$CTL" c "${ctl_dev%:*}" "${ctl_dev#*:}"
rm -f /dev/ttyS1
# Raw, no echo: the host's bytes reach the agent untouched, nothing is echoed
# back, and lines are not limited to the canonical 4095 bytes.
stty -F "$CTL" raw -echo
exec 9>"$CTL"

# Follow /dev/kmsg into a file so the agent can hand over every kernel record,
# even those below the console loglevel. cat exits with EPIPE when the ring
# buffer overran it; a restarted reader begins at the oldest record, so records
# up to the last sequence number already saved are skipped.
labctl_kmsg_follow() {
	cat /dev/kmsg
	while :; do
		last=$(awk -F, '/^[0-9]/ { s = $2 } END { print s }' /run/labctl/kmsg)
		# cat, not awk, reads /dev/kmsg: it ends with EPIPE at an overrun (above).
		# shellcheck disable=SC2002
		cat /dev/kmsg | awk -F, -v last="${last:--1}" '
			/^ / { if (keep) { print; fflush() } next }
			{ keep = ($2 + 0 > last + 0); if (keep) { last = $2 + 0; print; fflush() } }'
	done
}
: >/run/labctl/kmsg
labctl_kmsg_follow >>/run/labctl/kmsg 2>/dev/null 9>&- &

# labctl_load NAME PATH [PARAM...]: insmod one module and report the result on
# the control channel; the host decides what a failure means, so boot goes on.
labctl_load() {
	name=$1 path=$2
	shift 2
	if out=$(insmod "$path" "$@" 2>&1); then
		printf '=%s=MOD=%s=OK\n' "$BOOT" "$name" >&9
	else
		status=$?
		[ -n "$out" ] || out="insmod exited with status $status"
		printf '=%s=MOD=%s=FAIL=%s\n' "$BOOT" "$name" \
			"$(printf '%s' "$out" | base64 -w 0)" >&9
	fi
}

@LABCTL_MODULES@

# No second `mdev -s` here: devtmpfs already made the modules' device nodes with the
# modes their drivers ask for (/dev/debugcon is 0666), and mdev would reset them to 0660.
read -r release </proc/sys/kernel/osrelease
printf '=%s=READY=%s\n' "$BOOT" "$release" >&9
exec 9>&-

cd /
# The agent's own diagnostics go to the console, never into the framed channel.
# When it dies (a step killed it, or an Oops in its context), the host hears so
# at once rather than waiting for the step's deadline; the newline first ends
# whatever half line the agent left.
while :; do
	# One tty, read and written: the control channel is both directions.
	# shellcheck disable=SC2094
	setsid sh /lib/labctl/agent.sh <"$CTL" >"$CTL" 2>/dev/console
	status=$?
	echo "labctl init: agent exited with status $status, restarting"
	printf '\n=%s=AGENT=%s\n' "$BOOT" "$status" >"$CTL"
	sleep 1
done
