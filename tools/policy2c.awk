# policy2c.awk: turn policy/seccomp.policy into C (build/policy_table.c).
#
#   awk -f tools/policy2c.awk policy/seccomp.policy > build/policy_table.c
#   awk -v table=client_policy_table -f tools/policy2c.awk \
#       policy/client-seccomp.policy > build/client_policy_table.c
#   awk -v table=supervisor_policy_table -f tools/policy2c.awk \
#       policy/supervisor-seccomp.policy > build/supervisor_policy_table.c
#
# The table is named ${table} (default policy_table), with its length in
# ${table}_len; the struct is the one in src/policy_table.h.
#
# Each rule line is "syscall action arguments reason..." (policy/README.md).
# Names and constants are left to the C compiler: SCMP_SYS(name) fails the
# build on an unknown syscall, and a #line directive makes the compiler
# name the policy line.  Any malformed line stops the build here.

function fail(msg) {
	printf("%s:%d: %s\n", FILENAME, FNR, msg) > "/dev/stderr"
	failed = 1
	exit 1
}

function cstring(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	return "\"" s "\""
}

# One "aN==VALUE", "aN&MASK==VALUE", "aN<=VALUE" or "aN!=$listen_fd"
# condition as a C initializer.
function cond(c,    op, at, lhs, rhs, arg, mask, kind, val) {
	# "lf" (global) counts the $listen_fd conditions of the rule read.
	op = "POLICY_OP_EQ"
	at = index(c, "==")
	if (at == 0 && (at = index(c, "<=")) != 0)
		op = "POLICY_OP_LE"
	if (at == 0 && (at = index(c, "!=")) != 0)
		op = "POLICY_OP_NE"
	if (at == 0)
		fail("condition \"" c "\" has no ==, <= or !=")
	lhs = substr(c, 1, at - 1)
	rhs = substr(c, at + 2)
	if (lhs !~ /^a[0-5](&.+)?$/)
		fail("condition \"" c "\" must start with a0..a5")
	arg = substr(lhs, 2, 1)
	mask = (length(lhs) > 2) ? "(uint64_t)(" substr(lhs, 4) ")" : "~(uint64_t)0"
	if (op != "POLICY_OP_EQ" && length(lhs) > 2)
		fail("condition \"" c "\": only == takes a mask")
	if (op == "POLICY_OP_NE" && rhs != "$listen_fd")
		fail("condition \"" c "\": != takes $listen_fd only")
	if (rhs == "$listen_fd" && lf++ > 0)
		fail("condition \"" c "\": one $listen_fd condition per rule")
	if (rhs == "")
		fail("condition \"" c "\" has no value")
	kind = "POLICY_VAL_CONST"
	val = "(uint64_t)(" rhs ")"
	if (rhs ~ /^\$/) {
		if (op == "POLICY_OP_LE")
			fail("condition \"" c "\": <= takes a constant")
		if (rhs == "$epoll_fd")
			kind = "POLICY_VAL_EPOLL_FD"
		else if (rhs == "$signal_fd")
			kind = "POLICY_VAL_SIGNAL_FD"
		else if (rhs == "$listen_fd")
			kind = "POLICY_VAL_LISTEN_FD"
		else if (rhs == "$notify_fd")
			kind = "POLICY_VAL_NOTIFY_FD"
		else
			fail("unknown run-time value \"" rhs "\"")
		val = "0"
	}
	return "{ " arg ", " op ", " mask ", " kind ", " val " }"
}

BEGIN {
	if (table == "")
		table = "policy_table"
	if (table !~ /^[a-z_][a-z0-9_]*$/)
		fail("bad table name \"" table "\"")
	print "/* Generated from " ARGV[ARGC - 1] " by tools/policy2c.awk: do not edit. */"
	print "#include <errno.h>"
	print "#include <fcntl.h>"
	print "#include <limits.h>"
	print "#include <sched.h>"
	print "#include <signal.h>"
	print "#include <stdint.h>"
	print "#include <time.h>"
	print "#include <unistd.h>"
	print "#include <linux/seccomp.h>"
	print "#include <netinet/in.h>"
	print "#include <netinet/tcp.h>"
	print "#include <sys/epoll.h>"
	print "#include <sys/mman.h>"
	print "#include <sys/socket.h>"
	print "#include <sys/wait.h>"
	print ""
	print "#include <seccomp.h>"
	print ""
	print "#include \"policy_table.h\""
	print ""
	print "extern const struct policy_rule " table "[];"
	print "extern const size_t " table "_len;"
	print ""
	print "const struct policy_rule " table "[] = {"
}

/^[ \t]*(#|$)/ { next }

{
	name = $1; action = $2; args = $3
	if (NF < 4)
		fail("want: syscall action arguments reason")
	if (name !~ /^[a-z_][a-z0-9_]*$/)
		fail("bad syscall name \"" name "\"")
	reason = $4
	for (i = 5; i <= NF; i++)
		reason = reason " " $i

	# action[:MACRO]: the rule exists only in builds that define MACRO.
	build = ""
	if ((c = index(action, ":")) > 0) {
		build = substr(action, c + 1)
		action = substr(action, 1, c - 1)
		if (build !~ /^[A-Z_][A-Z0-9_]*$/)
			fail("bad build condition \"" build "\"")
	}
	if (action == "allow") {
		act = "POLICY_ALLOW"; err = "0"
	} else if (action ~ /^errno=E[A-Z0-9]+$/) {
		act = "POLICY_ERRNO"; err = substr(action, 7)
	} else {
		fail("bad action \"" action "\" (allow or errno=ENAME)")
	}

	n = 0; inits = ""; lf = 0
	if (args != "-") {
		n = split(args, conds, ",")
		if (n > 4)
			fail("more than 4 conditions")
		for (i = 1; i <= n; i++)
			inits = inits (i > 1 ? ", " : "") cond(conds[i])
	}

	if (build != "")
		printf("#if defined(%s) && %s\n", build, build)
	printf("#line %d \"%s\"\n", FNR, FILENAME)
	printf("\t{ \"%s\", SCMP_SYS(%s), %s, %s, %d,\n", name, name, act, err, n)
	printf("\t    { %s },\n", inits)
	printf("\t    %s },\n", cstring(reason))
	if (build != "")
		print "#endif"
	rules++
}

END {
	if (failed)
		exit 1
	if (rules == 0) {
		print FILENAME ": no rules" > "/dev/stderr"
		exit 1
	}
	print "};"
	print ""
	print "const size_t " table "_len ="
	print "    sizeof(" table ") / sizeof(" table "[0]);"
}
