/*
 * routes.c: every hidden route's knock or key into the knock set, at
 * start-up and at each reload; the backends; the summary; the relay's view.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "conf.h"
#include "keyfile.h"
#include "knock.h"
#include "knockfile.h"
#include "knockset.h"
#include "log.h"
#include "net.h"
#include "proxyhdr.h"
#include "relay.h"
#include "replay.h"
#include "routes.h"
#include "secretfile.h"
#include "store.h"
#include "token.h"

/* Longest start-up probe of one address of a backend name (ms). */
#define PROBE_MS_MAX		1000

/* Longest wait (ms) for the replay store's answer to a token's claim. */
#define ROUTES_STORE_MS		200

/* A loader: route ${i}'s secret into ${T}'s knock set; 0 or EX_*. */
typedef int routes_loader(struct routes *, const struct conf *, size_t);

/* A kind's words for route ${i} in the summary ("knock of 5 bytes"). */
typedef void routes_describer(const struct routes *, size_t, char *, size_t);

static routes_loader routes_load_knock, routes_load_key;
static routes_describer routes_desc_knock, routes_desc_token;

/* One kind of knock. */
struct routes_kind {
	const char * file;		/* Its option and sub-option (=). */
	routes_loader * load;		/* Reads the file, adds the route. */
	routes_describer * desc;	/* For the summary. */
};

/*
 * The kinds of knock.  Order matters only in messages ("expected
 * key-file=, knock-file=, ...").
 */
static const struct routes_kind routes_kinds[] = {
	{ "key-file", routes_load_key, routes_desc_token },
	{ "knock-file", routes_load_knock, routes_desc_knock },
};

/* How many kinds there are. */
#define ROUTES_NKINDS	(sizeof(routes_kinds) / sizeof(routes_kinds[0]))

/* The kind table. */
int
routes_kind_find(const char * file, size_t len)
{
	size_t i;

	for (i = 0; i < ROUTES_NKINDS; i++)
		if (strlen(routes_kinds[i].file) == len &&
		    memcmp(routes_kinds[i].file, file, len) == 0)
			return ((int)i);
	return (-1);
}

/* The option of kind ${kind}. */
const char *
routes_kind_file(int kind)
{

	if (kind < 0 || (size_t)kind >= ROUTES_NKINDS)
		return (NULL);
	return (routes_kinds[kind].file);
}

/* The command line's KNOCK is a static knock. */
int
routes_kind_argv(void)
{

	return (routes_kind_find("knock-file", strlen("knock-file")));
}

/*
 * Report why route ${i}'s knock (${rc} from knockset_add_knock, the knock
 * left at knocks.r[n]) was refused, naming the route it clashes with.
 */
static void
routes_knock_clash(const struct routes * T, const struct conf * C, size_t i,
    int rc)
{
	const struct knockset * K = &T->knocks;
	const struct knock * k = &K->r[K->n].knock;
	size_t j, len;

	for (j = 0; j < K->n; j++) {
		len = (K->r[j].knock.len < k->len) ? K->r[j].knock.len : k->len;
		if (!K->r[j].token && memcmp(K->r[j].knock.buf, k->buf,
		    len) == 0)
			break;
	}
	if (rc == KNOCKSET_EPREFIX)
		log_err("route '%s': its knock and route '%s''s begin the "
		    "same way (one is a prefix of the other, so the shorter "
		    "would always win): give knocks that are not prefixes of "
		    "one another", C->routes[i].name,
		    C->routes[T->route[j]].name);
	else
		log_err("route '%s': its knock is route '%s''s knock too: "
		    "give each route its own knock", C->routes[i].name,
		    C->routes[T->route[j]].name);
}

/* A static knock: from its file, or the command line's KNOCK. */
static int
routes_load_knock(struct routes * T, const struct conf * C, size_t i)
{
	const struct conf_route * R = &C->routes[i];
	struct knock k;
	int rc;

	if (R->path[0] == '\0')
		k = C->knock;
	else if (knockfile_read(R->path, &k))
		return (EX_NOINPUT);
	/* The set is checked before the knock is in it. */
	T->knocks.r[T->knocks.n].knock = k;
	rc = knockset_add_knock(&T->knocks, &k);
	knock_wipe(&k);
	if (rc < 0) {
		routes_knock_clash(T, C, i, rc);
		knock_wipe(&T->knocks.r[T->knocks.n].knock);
		return (EX_USAGE);
	}
	T->route[rc] = i;
	return (0);
}

/* A key: tokens under it. */
static int
routes_load_key(struct routes * T, const struct conf * C, size_t i)
{
	const struct conf_route * R = &C->routes[i];
	uint8_t key[KEYFILE_KEYLEN];
	int rc;

	if (keyfile_read(R->path, key))
		return (EX_NOINPUT);
	rc = knockset_add_key(&T->knocks, key);
	sodium_memzero(key, sizeof(key));
	if (rc < 0) {
		log_err("route '%s': the key in '%s' is another route's key "
		    "too: give each route its own key", R->name, R->path);
		return (EX_USAGE);
	}
	T->route[rc] = i;
	return (0);
}

/* "knock of N bytes". */
static void
routes_desc_knock(const struct routes * T, size_t i, char * buf, size_t size)
{

	snprintf(buf, size, "knock of %zu bytes", T->knocks.r[i].knock.len);
}

/* "token". */
static void
routes_desc_token(const struct routes * T, size_t i, char * buf, size_t size)
{

	(void)T;
	(void)i;
	snprintf(buf, size, "token");
}

/*
 * --replay-store-password-file: the password (one trailing newline
 * stripped) into ${T}.  Return 0 or an exit status, reported.
 */
static int
routes_load_store_password(struct routes * T, const struct conf * C)
{
	const char * path = C->store_password_file;
	ssize_t n;

	T->store_pwlen = 0;
	if (path == NULL)
		return (0);
	if ((n = secretfile_read(path, "replay store password file",
	    T->store_pw, sizeof(T->store_pw))) == -1)
		return (EX_NOINPUT);
	if (n > 0 && T->store_pw[n - 1] == '\n')
		n--;
	if (n == 0 || n > STORE_PASSWORD_MAX ||
	    memchr(T->store_pw, '\n', (size_t)n) != NULL) {
		sodium_memzero(T->store_pw, sizeof(T->store_pw));
		log_err("replay store password file '%s': expected one line "
		    "of 1 to %d bytes", path, STORE_PASSWORD_MAX);
		return (EX_DATAERR);
	}
	T->store_pwlen = (size_t)n;
	return (0);
}

/* Load every route, and the store's password. */
int
routes_load(struct routes * T, const struct conf * C)
{
	size_t i;
	int rc;

	if (token_init())
		return (EX_SOFTWARE);
	knockset_init(&T->knocks, C->window_s, (uint64_t)time(NULL));
	for (i = 0; i < C->nroutes; i++) {
		if ((rc = routes_kinds[C->routes[i].kind].load(T, C, i)) != 0)
			return (rc);
	}
	if (T->knocks.nkeys > 0 && T->replay == NULL &&
	    (T->replay = replay_init(C->replay_n)) == NULL)
		return (EX_OSERR);
	return (routes_load_store_password(T, C));
}

/* Load every route again, keeping the replay cache and the start time. */
int
routes_reload(struct routes * T, const struct conf * C)
{
	uint64_t start_s = T->knocks.start_s;

	routes_wipe(T);
	if (routes_load(T, C) != 0) {
		routes_wipe(T);
		return (-1);
	}
	T->knocks.start_s = start_s;
	return (0);
}

/* Landlock's connect ports: every backend's, then the store's. */
static void
routes_ports(struct routes * T, const struct conf * C)
{
	size_t i, n = 0;

	T->ports[n++] = net_port((struct sockaddr *)&T->normal.ss);
	for (i = 0; i < C->nroutes; i++)
		T->ports[n++] = net_port((struct sockaddr *)&T->hidden[i].ss);
	if (C->have_replay_store)
		T->ports[n++] = net_port((struct sockaddr *)&T->store.ss);
	T->nports = n;
}

/* Resolve every backend and the store, once; a name's addresses probed. */
int
routes_resolve(struct routes * T, const struct conf * C)
{
	uint64_t probe_ms;
	size_t i;

	probe_ms = (C->connect_ms < PROBE_MS_MAX) ? C->connect_ms :
	    PROBE_MS_MAX;
	if (net_resolve(C->normal.host, C->normal.port, probe_ms, &T->normal))
		return (-1);
	for (i = 0; i < C->nroutes; i++) {
		if (net_resolve(C->routes[i].b.host, C->routes[i].b.port,
		    probe_ms, &T->hidden[i]))
			return (-1);
	}
	if (C->have_replay_store && net_resolve(C->replay_store.host,
	    C->replay_store.port, probe_ms, &T->store))
		return (-1);
	routes_ports(T, C);
	return (0);
}

/*
 * Backend ${B}'s address at a reload, into ${a}: a literal as it is; a
 * name only if ${old} (the configuration in force, resolved into ${T})
 * has a backend of the same name and port (no name service in the
 * sandbox).  Return 0 or -1 (reported).
 */
static int
routes_reresolve_one(const struct routes * T, const struct conf * old,
    const struct conf_backend * B, struct net_addr * a)
{
	size_t i;

	if (net_literal(B->host, B->port, a) == 0)
		return (0);
	if (strcmp(old->normal.host, B->host) == 0 &&
	    old->normal.port == B->port) {
		*a = T->normal;
		return (0);
	}
	for (i = 0; i < old->nroutes; i++) {
		if (strcmp(old->routes[i].b.host, B->host) == 0 &&
		    old->routes[i].b.port == B->port) {
			*a = T->hidden[i];
			return (0);
		}
	}
	log_err("reload: backend '%s:%u' is a host name the relay did not "
	    "resolve at start-up: a reload cannot resolve it (give an "
	    "address, or restart)", B->host, (unsigned)B->port);
	return (-1);
}

/* Every backend of ${C} at a reload, ${old} in force. */
int
routes_reresolve(struct routes * T, const struct conf * C,
    const struct conf * old)
{
	struct net_addr normal, hidden[CONF_ROUTES_MAX];
	size_t i;

	if (routes_reresolve_one(T, old, &C->normal, &normal))
		return (-1);
	for (i = 0; i < C->nroutes; i++)
		if (routes_reresolve_one(T, old, &C->routes[i].b, &hidden[i]))
			return (-1);
	T->normal = normal;
	for (i = 0; i < C->nroutes; i++)
		T->hidden[i] = hidden[i];
	routes_ports(T, C);		/* The store: kept, as resolved. */
	return (0);
}

/* The relay's view of the routes. */
void
routes_relay_conf(struct routes * T, const struct conf * C,
    struct relay_conf * R)
{
	size_t i;

	R->normal = (struct relay_route){ "normal", &T->normal,
	    C->normal.idle_ms, C->normal.proxy };
	for (i = 0; i < C->nroutes; i++)
		T->relay[i] = (struct relay_route){ C->routes[i].name,
		    &T->hidden[i], C->routes[i].b.idle_ms,
		    C->routes[i].b.proxy };
	R->hidden = T->relay;
	R->nhidden = C->nroutes;
	R->knocks = &T->knocks;
	R->replay = T->replay;
	R->store = C->have_replay_store ? &T->store : NULL;
	R->store_password = (T->store_pwlen > 0) ? T->store_pw : NULL;
	R->store_password_len = T->store_pwlen;
	R->store_ms = ROUTES_STORE_MS;
}

/* The words the log uses for a proxy= version. */
static const char *
routes_proxy_name(int proxy)
{

	return (proxy == PROXYHDR_V1 ? "PROXY v1" : proxy == PROXYHDR_V2 ?
	    "PROXY v2" : "no PROXY header");
}

/* Log the summary: each route; never a knock or key itself. */
void
routes_summary(const struct routes * T, const struct conf * C,
    const struct relay_conf * R)
{
	char a[NET_ADDRSTR_MAX], kind[32];
	size_t i;

	log_info("route normal: backend %s, idle %llu ms, %s",
	    net_format((const struct sockaddr *)&T->normal.ss, a, sizeof(a)),
	    (unsigned long long)C->normal.idle_ms,
	    routes_proxy_name(C->normal.proxy));
	for (i = 0; i < C->nroutes; i++) {
		routes_kinds[C->routes[i].kind].desc(T, i, kind, sizeof(kind));
		log_info("route %s: backend %s, %s, idle %llu ms, %s",
		    C->routes[i].name, net_format(
		    (const struct sockaddr *)&T->hidden[i].ss, a, sizeof(a)),
		    kind, (unsigned long long)C->routes[i].b.idle_ms,
		    routes_proxy_name(C->routes[i].b.proxy));
	}
	if (!knockset_b64url(&T->knocks))
		log_info("a static knock has bytes outside base64url: a first "
		    "message shorter than the longest knock waits for the "
		    "knock timeout (a knock of A-Z a-z 0-9 - _ only lets the "
		    "relay send it on at once)");
	if (T->knocks.nkeys > 0)
		log_info("tokens: window %llu s, replay cache of %zu entries "
		    "(%zu KiB)", (unsigned long long)C->window_s, C->replay_n,
		    C->replay_n * 8 / 1024);
	if (C->have_replay_store)
		log_info("replay store: %s%s, answers awaited %llu ms",
		    net_format((const struct sockaddr *)&T->store.ss, a,
		    sizeof(a)), T->store_pwlen > 0 ? " with AUTH" : "",
		    (unsigned long long)R->store_ms);
	log_info("timeouts: knock %llu ms, connect %llu ms, fin %llu ms; "
	    "%zu connection slots, %zu pipes; %zu per source",
	    (unsigned long long)C->knock_ms,
	    (unsigned long long)C->connect_ms,
	    (unsigned long long)C->fin_ms, R->max_conns, R->max_pipes,
	    R->max_per_source);
}

/* --check: every route's secret and backend; count the problems. */
size_t
routes_check(struct routes * T, const struct conf * C)
{
	struct net_addr a;
	size_t i, bad = 0;
	uint64_t probe_ms;

	if (token_init())
		return (1);
	knockset_init(&T->knocks, C->window_s, (uint64_t)time(NULL));
	for (i = 0; i < C->nroutes; i++)
		if (routes_kinds[C->routes[i].kind].load(T, C, i) != 0)
			bad++;
	if (routes_load_store_password(T, C) != 0)
		bad++;
	routes_wipe(T);
	probe_ms = (C->connect_ms < PROBE_MS_MAX) ? C->connect_ms :
	    PROBE_MS_MAX;
	if (net_resolve(C->normal.host, C->normal.port, probe_ms, &a))
		bad++;
	for (i = 0; i < C->nroutes; i++)
		if (net_resolve(C->routes[i].b.host, C->routes[i].b.port,
		    probe_ms, &a))
			bad++;
	if (C->have_replay_store && net_resolve(C->replay_store.host,
	    C->replay_store.port, probe_ms, &a))
		bad++;
	return (bad);
}

/* Hold every secret file's directory. */
int
routes_hold(const struct conf * C)
{
	size_t i;

	for (i = 0; i < C->nroutes; i++)
		if (C->routes[i].path[0] != '\0' &&
		    secretfile_hold(C->routes[i].path))
			return (-1);
	if (C->store_password_file != NULL &&
	    secretfile_hold(C->store_password_file))
		return (-1);
	return (0);
}

/* Whether any route has a file (a reload has something to re-read). */
int
routes_have_files(const struct conf * C)
{
	size_t i;

	for (i = 0; i < C->nroutes; i++)
		if (C->routes[i].path[0] != '\0')
			return (1);
	return (C->store_password_file != NULL);
}

/* Warn about each secret file a reload could not read. */
void
routes_check_readable(const struct conf * C)
{
	size_t i;

	for (i = 0; i < C->nroutes; i++)
		if (C->routes[i].path[0] != '\0' &&
		    secretfile_readable(C->routes[i].path))
			log_errno(LOG_WARN, "'%s' cannot be read by the "
			    "supervisor's user: a reload (SIGHUP) would fail",
			    C->routes[i].path);
	if (C->store_password_file != NULL &&
	    secretfile_readable(C->store_password_file))
		log_errno(LOG_WARN, "'%s' cannot be read by the supervisor's "
		    "user: a reload (SIGHUP) would fail",
		    C->store_password_file);
}

/* Wipe the knock set. */
void
routes_wipe(struct routes * T)
{

	knockset_wipe(&T->knocks);
	sodium_memzero(T->store_pw, sizeof(T->store_pw));
	T->store_pwlen = 0;
}
