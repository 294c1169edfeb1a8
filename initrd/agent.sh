#!/bin/sh
# labctl guest agent (busybox sh): reads one request per line on stdin (the
# control channel, raw) and answers on stdout. Started and respawned by /init.
# The protocol (requests, framing, nonces, CRC-32, files): docs/protocol.md.
#
# Speed matters (every fork and exec is milliseconds under TCG): builtins
# wherever possible, no base64 or crc32 for empty files, kernel records read
# through a file descriptor kept open on the file /init's follower appends to.

# The verbs (docs/protocol.md): guest-side tasks labctl asks for by name. The
# agent runs each as a step, as `sh agent.sh VERB ARG...`, which lands here.
verb_sections() {
	# grep, not the shell's read: these files ignore the read offset, so a
	# byte-at-a-time reader never sees the newline.
	cd "${LABCTL_AGENT_SYS:-/sys}"/module || exit 1
	files=
	for m in "$@"; do
		files="$files $m/sections/.[!.]*"
	done
	# Split and globbed on purpose: the arguments are [A-Za-z0-9_.+-].
	# shellcheck disable=SC2086
	exec grep -H . $files
}

# verb_shell ROWS COLS TERM: start `login -f root` on ttyS0 in its own session
# with ttyS0 as its controlling tty, in the background, and print its PID. Why
# login: a step runs as a background job of the agent, so it inherits SIGINT
# ignored, and a shell cannot undo an ignore it inherited; busybox login resets
# SIGINT before it starts the shell, so Ctrl-C works. login needs a passwd
# entry for root, which labctl's initrd does not have; -p keeps TERM. Input
# that reaches ttyS0 before the shell reads it is lost, so the answer waits, up
# to 10 s, until the shell's line editing has switched ttyS0 out of canonical
# mode: it is reading.
verb_shell() {
	[ -e /etc/passwd ] || echo 'root::0:0:root:/:/bin/sh' >/etc/passwd
	[ "$1" -gt 0 ] && [ "$2" -gt 0 ] && stty -F /dev/ttyS0 rows "$1" cols "$2"
	TERM=$3 setsid -c login -p -f root </dev/ttyS0 >/dev/ttyS0 2>&1 &
	p=$!
	i=0
	while [ $i -lt 200 ] && ! stty -F /dev/ttyS0 -a | grep -q ' -icanon'; do
		sleep 0.05
		i=$((i + 1))
	done
	echo $p
}

# verb_resize ROWS COLS: the window size of ttyS0 (labctl shell's terminal).
verb_resize() {
	exec stty -F /dev/ttyS0 rows "$1" cols "$2"
}

# verb_alive PID: "alive" while PID exists and is not a zombie, else "gone".
verb_alive() {
	if [ -e /proc/"$1" ] && ! grep -qs '^State:.*[ZX]' /proc/"$1"/status; then
		echo alive
	else
		echo gone
	fi
}

# numbers ARG...: true when every ARG is a decimal number.
numbers() {
	for n in "$@"; do
		case $n in '' | *[!0-9]*) return 1 ;; esac
	done
}

if [ $# -gt 0 ]; then
	verb=$1
	shift
	case $verb:$# in
	SECTIONS:*) [ $# -gt 0 ] && verb_sections "$@" ;;
	SHELL:3) numbers "$1" "$2" && verb_shell "$@" ;;
	RESIZE:2) numbers "$1" "$2" && verb_resize "$@" ;;
	ALIVE:1) numbers "$1" && verb_alive "$1" ;;
	*) false ;;
	esac || {
		echo "labctl agent: bad arguments for $verb: $*" >&2
		exit 2
	}
	exit
fi

# Verbs run this script again, by a name that must survive the cd.
case $0 in
/*) AGENT=$0 ;;
*) AGENT=$PWD/$0 ;;
esac
cd /
# /init's runtime files and the step files, outside /tmp so that a step's
# `rm -rf /tmp/*` cannot take them; the unit tests point this elsewhere to run
# this script on the host.
K=${LABCTL_AGENT_RUN:-/run/labctl}
D=$K/steps
mkdir -p "$D"
[ -p "$K/done" ] || mkfifo "$K/done"
# A step's wrapper writes "<nonce> <status>" here; read -t on it is the timeout.
exec 4<>"$K/done"
exec 3<"$K/kmsg"
partial=
cleanup_due=0
seq=0
# crc32 of nothing, so quiet streams need no process.
EMPTY_CRC=00000000

# Kernel records appended since the last answer. kmsg_first takes the first
# line through the builtin read (no process when there is nothing new) into
# $kmsg_line; kmsg_rest prints it and copies the rest with cat, which advances
# the shared offset of fd 3. A record still being written may end the cat
# output without a newline, so an empty line (which the host ignores) follows
# it to keep the next marker at the start of a line.
kmsg_first() {
	if read -r line <&3; then
		kmsg_line=$partial$line
		partial=
		return 0
	fi
	partial=$partial$line
	return 1
}

kmsg_rest() {
	printf '%s\n' "$kmsg_line"
	cat <&3
	echo
}

# decode_small BASE64 FILE: decode into FILE with builtins only; false on a
# character outside the alphabet. For a short command this is cheaper than the
# fork and exec of the base64 applet.
B64=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/
decode_small() {
	s=$1 esc=
	while [ -n "$s" ]; do
		rest=${s#????}
		quad=${s%"$rest"}
		s=$rest
		n=0 pad=0
		while [ -n "$quad" ]; do
			c=${quad%"${quad#?}"}
			quad=${quad#?}
			if [ "$c" = = ]; then
				v=0 pad=$((pad + 1))
			else
				t=${B64%%"$c"*}
				v=${#t}
				[ "$v" -lt 64 ] && [ "$pad" = 0 ] || return 1
			fi
			n=$(((n << 6) | v))
		done
		# Each byte becomes a printf octal escape, so any value survives.
		esc="$esc\\$((n >> 22 & 3))$((n >> 19 & 7))$((n >> 16 & 7))"
		[ "$pad" -ge 2 ] || esc="$esc\\$((n >> 14 & 3))$((n >> 11 & 7))$((n >> 8 & 7))"
		[ "$pad" -ge 1 ] || esc="$esc\\$((n >> 6 & 3))$((n >> 3 & 7))$((n & 7))"
	done
	# The escapes are the format: each byte is one octal escape made above.
	# shellcheck disable=SC2059
	printf "$esc" >"$2"
}

# decode_command BASE64 FILE ERRFILE: the command text into FILE; false (with
# base64's message in ERRFILE) when it is not valid base64.
decode_command() {
	# busybox base64 -d skips characters it does not know, so check first.
	case $1 in
	*[!A-Za-z0-9+/=]*)
		echo "labctl agent: the command text is not valid base64" >"$3"
		return 1
		;;
	esac
	if [ $((${#1} % 4)) != 0 ]; then
		echo "labctl agent: the command text is not valid base64" >"$3"
		return 1
	fi
	if [ "${#1}" -le 256 ] && decode_small "$1" "$2"; then
		: >"$3"
		return 0
	fi
	base64 -d >"$2" 2>"$3" <<EOF
$1
EOF
}

# wait_step NONCE TIMEOUT: read the status of step NONCE into $status; false
# when TIMEOUT (seconds, 0 = none) passes first. Lines of older steps, which
# were killed but ended late, are skipped.
wait_step() {
	while :; do
		if [ "$2" = 0 ]; then
			read -r done_nonce status <&4 || return 1
		else
			# busybox ash has read -t.
			# shellcheck disable=SC3045
			read -t "$2" -r done_nonce status <&4 || return 1
		fi
		[ "$done_nonce" = "$1" ] && return 0
	done
}

# kill_step PIDFILE: SIGKILL the step's process group (its sh is a session
# leader thanks to setsid); false when it had already ended.
kill_step() {
	pid=
	read -r pid 2>/dev/null <"$1"
	[ -n "$pid" ] && kill -KILL -"$pid" 2>/dev/null
}

# alive PID: true while PID runs (a zombie, killed but not reaped yet, does not);
# builtins only.
alive() {
	st=Z
	read -r _ _ st _ 2>/dev/null </proc/"$1"/stat
	[ "$st" != Z ]
}

# step_command VERB TEXT FILE ERRFILE: for RUN, the command text (base64 TEXT)
# into FILE; for a verb, check its arguments TEXT. False, with why in ERRFILE,
# when TEXT does not fit.
step_command() {
	if [ "$1" = RUN ]; then
		decode_command "$2" "$3" "$4"
		return
	fi
	case $2 in
	*[!A-Za-z0-9_.+\ -]*)
		echo "labctl agent: bad arguments for $1" >"$4"
		return 1
		;;
	esac
	: >"$4"
}

# run_step VERB NONCE TIMEOUT TEXT
run_step() {
	verb=$1 nonce=$2 timeout=$3
	seq=$((seq + 1))
	# A step may have removed the folder; recreating it costs no process when it is there.
	[ -d "$D" ] || mkdir -p "$D"
	f=$D/$seq
	status=- how=-
	if step_command "$verb" "$4" "$f.c" "$f.e"; then
		# Output goes to files, not pipes, so a background process that keeps
		# stdout open cannot hold the answer back. The step runs as an async
		# command because sh reports a foreground command's death by signal
		# ("Killed") on its own stderr, which is then the step's stderr file.
		(
			if [ "$verb" = RUN ]; then
				set -- "$f.c"
			else
				# Split on purpose: the arguments have no spaces or glob
				# characters (step_command).
				# shellcheck disable=SC2086
				set -- "$AGENT" "$verb" $4
			fi
			setsid sh "$@" </dev/null >"$f.o" 2>"$f.e" 3<&- 4<&- &
			echo $! >"$f.p"
			wait $!
			echo "$nonce $?" >&4
		) &
		wrapper=$!
		if ! wait_step "$nonce" "$timeout"; then
			if ! alive "$wrapper"; then
				how=L # the wrapper was killed: nobody will report the status
			elif kill_step "$f.p"; then
				how=T
				# A process stuck in the kernel may not die: then the status is "-".
				wait_step "$nonce" 5 || { status=- how=S wrapper=; }
			elif ! wait_step "$nonce" 5; then
				how=L wrapper=
			fi
		fi
		# Reap the wrapper now: busybox read drops the bytes it has read so far
		# when a signal interrupts it, so no SIGCHLD may arrive while the next
		# request is being read.
		[ -z "$wrapper" ] || wait "$wrapper"
		[ "$how" != L ] || status=-
	else
		: >"$f.o"
		how=C
	fi
	kmsg=
	kmsg_first && kmsg=1
	if [ -z "$kmsg" ] && [ ! -s "$f.o" ] && [ ! -s "$f.e" ]; then
		# The usual answer to a quiet step, in one write.
		printf '\n=%s=O=%s\n=%s=E=%s\n=%s=K=\n=%s=X=%s=%s\n' "$nonce" "$EMPTY_CRC" \
			"$nonce" "$EMPTY_CRC" "$nonce" "$nonce" "$status" "$how"
	else
		crc_o=$EMPTY_CRC crc_e=$EMPTY_CRC
		if [ -s "$f.o" ] || [ -s "$f.e" ]; then
			# One process for both: "<crc> <file>" per line.
			# Split on purpose: "<crc> <file>" per line become $1..$4.
			# shellcheck disable=SC2046
			set -- $(crc32 "$f.o" "$f.e")
			crc_o=$1 crc_e=$3
		fi
		printf '\n=%s=O=%s\n' "$nonce" "$crc_o"
		[ -s "$f.o" ] && base64 "$f.o"
		printf '=%s=E=%s\n' "$nonce" "$crc_e"
		[ -s "$f.e" ] && base64 "$f.e"
		printf '=%s=K=\n' "$nonce"
		[ -z "$kmsg" ] || kmsg_rest
		printf '=%s=X=%s=%s\n' "$nonce" "$status" "$how"
	fi
	# Each step has its own files: a background process that still holds an
	# old one can never write into a later step's output. Files with content
	# go at once; empty ones are swept now and then to spare a fork per step.
	if [ -s "$f.o" ] || [ -s "$f.e" ]; then
		rm -f "$f.c" "$f.o" "$f.e" "$f.p"
	else
		cleanup_due=$((cleanup_due + 1))
		if [ "$cleanup_due" -ge 64 ]; then
			rm -f "$D"/*.[coep]
			cleanup_due=0
		fi
	fi
}

while read -r verb nonce arg command; do
	case $nonce in
	'' | *[!0-9a-f]*)
		echo "labctl agent: ignoring a request without a valid nonce: $verb $nonce" >&2
		continue
		;;
	esac
	case $verb in
	RUN | SECTIONS | SHELL | RESIZE | ALIVE)
		case $arg in '' | *[!0-9]*) arg=0 ;; esac
		run_step "$verb" "$nonce" "$arg" "$command"
		;;
	KMSG)
		printf '\n=%s=K=\n' "$nonce"
		kmsg_first && kmsg_rest
		printf '=%s=X=0=-\n' "$nonce"
		;;
	HALT)
		sync
		printf '\n=%s=X=0=-\n' "$nonce"
		# Closing the last descriptors of the tty waits until the answer is sent.
		exec </dev/null >/dev/null
		poweroff -f
		;;
	*) echo "labctl agent: ignoring unknown request '$verb'" >&2 ;;
	esac
done
