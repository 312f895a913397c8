# tests/lib/pgtest.sh - what the suites that start a real PostgreSQL share (tests/db/db_test.sh,
# tests/spring/run.sh). Sourced, not run. Expects TEST_USER, TMP, PG_BIN and pg_started to be set
# by the caller, and an abort MESSAGE [LOG] function.

# The newest PostgreSQL server of Debian's packages.
PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

# Runs a command as the unprivileged user (as oneself when not root): PostgreSQL refuses root.
if [ "$(id -u)" -eq 0 ]; then
	as_test() { runuser -u "$TEST_USER" -- "$@"; }
else
	as_test() { "$@"; }
fi

# Creates TEST_USER when running as root and it is missing.
pgtest_user() {
	if [ "$(id -u)" -eq 0 ] && ! id -u "$TEST_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
			"$TEST_USER" || abort "prerequisites: unable to create the user $TEST_USER"
	fi
}

# A TCP port of 127.0.0.1 that nothing listens on (and that is none of the arguments).
free_port() {
	local p i
	for i in $(seq 200); do
		# Below the kernel's ephemeral range (32768 and up), where outgoing
		# connections could take the port between this check and the bind.
		p=$((20000 + RANDOM % 12000))
		case " $* " in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Stops the PostgreSQL of $TMP/data if it was started: fast, else immediate.
pgtest_stop() {
	if [ "$pg_started" = 1 ]; then
		as_test "$PG_BIN/pg_ctl" -D "$TMP/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			as_test "$PG_BIN/pg_ctl" -D "$TMP/data" -m immediate -w stop >/dev/null 2>&1
	fi
}
