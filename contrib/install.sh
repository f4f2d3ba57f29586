#!/bin/sh
# Installs conntracker on a MariaDB server: the user, its directories, the binary, the ini
# file and the systemd units (optionally the cron file and the logrotate snippet).
# Idempotent: running it again changes nothing but the binary and the shipped unit files;
# an existing conntracker.ini is never overwritten.
#
#   sudo contrib/install.sh [--root DIR] [--binary FILE] [--cron] [--logrotate]
#                           [--log-group GROUP]
#
# --root DIR        install into DIR instead of / (also $DESTDIR); DIR/etc/passwd, group,
#                   shadow and gshadow must exist there
# --binary FILE     the binary to install (default: ./conntracker, from `deno task build`)
# --cron            also install /etc/cron.d/conntracker (instead of enabling the timer)
# --logrotate       also install /etc/logrotate.d/mariadb-audit (read it first)
# --log-group GROUP the group of the audit log files (default: mysql)
#
# Exit codes: 0 installed, 2 usage error, else a step failed (1, or the failing command's code).
set -eu
umask 022

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
root=${DESTDIR:-/}
binary=$repo/conntracker
cron=no
logrotate=no
log_group=mysql

usage() {
	cat >&2 <<'EOF'
usage: install.sh [--root DIR] [--binary FILE] [--cron] [--logrotate] [--log-group GROUP]
EOF
	exit 2
}
fail() {
	echo "install.sh: $*" >&2
	exit 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--root) [ $# -ge 2 ] || usage; root=$2; shift 2 ;;
	--root=*) root=${1#--root=}; shift ;;
	--binary) [ $# -ge 2 ] || usage; binary=$2; shift 2 ;;
	--binary=*) binary=${1#--binary=}; shift ;;
	--log-group) [ $# -ge 2 ] || usage; log_group=$2; shift 2 ;;
	--log-group=*) log_group=${1#--log-group=}; shift ;;
	--cron) cron=yes; shift ;;
	--logrotate) logrotate=yes; shift ;;
	-h | --help) usage ;;
	*) echo "install.sh: unknown option '$1'" >&2; usage ;;
	esac
done

[ "$(id -u)" = 0 ] || fail "must run as root"
[ -d "$root" ] || fail "root directory '$root' does not exist"
root=$(cd "$root" && pwd)
[ -f "$binary" ] || fail "binary '$binary' not found: build it with 'deno task build', or pass --binary"
prefix=
[ "$root" = / ] || prefix=$root
for f in passwd group shadow gshadow; do
	[ -f "$prefix/etc/$f" ] || fail "$prefix/etc/$f not found"
done
# From here on, "$@" holds the options for groupadd, useradd and usermod: with --prefix they
# edit $root/etc/* instead of /etc/*.
set --
[ -z "$prefix" ] || set -- --prefix "$root"

# The id of a user or group, read from the target root's own files (not from NSS, which
# knows only the running system).
id_of() { # file name
	awk -F: -v n="$2" '$1 == n { print $3; exit }' "$prefix/etc/$1"
}

grep -q "^$log_group:" "$prefix/etc/group" ||
	fail "group '$log_group' not found in $prefix/etc/group: install mariadb-server first, or pass --log-group"
if ! grep -q '^conntracker:' "$prefix/etc/group"; then
	groupadd "$@" --system conntracker
	echo "created group conntracker"
fi
if ! grep -q '^conntracker:' "$prefix/etc/passwd"; then
	useradd "$@" --system --gid conntracker --groups "$log_group" --home-dir /var/lib/conntracker \
		--no-create-home --shell /usr/sbin/nologin --comment "conntracker" conntracker
	echo "created user conntracker (in group $log_group)"
elif ! awk -F: -v g="$log_group" '$1 == g { print "," $4 "," }' "$prefix/etc/group" |
	grep -q ',conntracker,'; then
	usermod "$@" --append --groups "$log_group" conntracker
	echo "added user conntracker to group $log_group"
fi
uid=$(id_of passwd conntracker)
gid=$(id_of group conntracker)
[ -n "$uid" ] && [ -n "$gid" ] || fail "user or group conntracker missing after creating them"

# Directories: the configuration (root's, readable by conntracker: a client.cnf here may hold
# a password) and the database (conntracker's alone; the -wal and -shm files go here too).
# mkdir -p leaves the modes of directories that exist (/usr/bin ...) as they are.
mkdir -p "$prefix/usr/bin" "$prefix/etc/systemd/system" "$prefix/var/lib"
install -d -m 0750 -o 0 -g "$gid" "$prefix/etc/conntracker"
install -d -m 0750 -o "$uid" -g "$gid" "$prefix/var/lib/conntracker"

install -m 0755 -o 0 -g 0 "$binary" "$prefix/usr/bin/conntracker"

ini=$prefix/etc/conntracker/conntracker.ini
if [ -e "$ini" ]; then
	echo "kept $ini"
else
	tmp=$(mktemp)
	trap 'rm -f "$tmp"' EXIT
	sed 's|^SqlitePath = .*|SqlitePath = /var/lib/conntracker/audit.sqlite|' \
		"$repo/conntracker.ini-dist" >"$tmp"
	grep -q '^SqlitePath = /var/lib/conntracker/audit.sqlite$' "$tmp" ||
		fail "conntracker.ini-dist has no 'SqlitePath = ' line to point at /var/lib/conntracker"
	install -m 0640 -o 0 -g "$gid" "$tmp" "$ini"
	echo "installed $ini (SqlitePath = /var/lib/conntracker/audit.sqlite)"
fi

install -m 0644 -o 0 -g 0 "$here/conntracker.service" "$here/conntracker.timer" \
	"$prefix/etc/systemd/system/"
if [ "$cron" = yes ]; then
	mkdir -p "$prefix/etc/cron.d"
	# cron ignores files in /etc/cron.d whose names contain a dot.
	install -m 0644 -o 0 -g 0 "$here/conntracker.cron" "$prefix/etc/cron.d/conntracker"
fi
if [ "$logrotate" = yes ]; then
	mkdir -p "$prefix/etc/logrotate.d"
	install -m 0644 -o 0 -g 0 "$here/logrotate.d/mariadb-audit" "$prefix/etc/logrotate.d/mariadb-audit"
fi

if [ -z "$prefix" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload
fi
if [ "$cron" = yes ]; then
	echo "installed; cron runs it every 5 minutes (/etc/cron.d/conntracker)"
else
	echo "installed; start it with: systemctl enable --now conntracker.timer"
fi
