// SPDX-License-Identifier: GPL-2.0
/*
 * Configuration parser.  Every problem is reported once, as
 * "FILE:LINE: reason", and the whole file is rejected: a daemon never runs
 * on half a configuration.
 */
#define LOG_PREFIX "config"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include <bproc/proto.h>

#include "config.h"
#include "log.h"

#define KEY_FILE_MAX 4096
#define MAX_ARGS 8

/* A send line, applied once every node is known. */
struct send_line {
	int num; /* a node, BP_NODE_MASTER, or SEND_ALL */
	unsigned int send;
	int line;
};

#define SEND_ALL (-2)

struct parser {
	const char *path;
	int line;
	char *err;
	size_t errlen;
	struct bp_config *cfg;
	size_t cap;
	bool have_master, have_key, have_heartbeat, have_timeout;
	bool have_master_node, have_fanout;
	struct send_line *sends;
	size_t nr_sends;
};

static int parse_error(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int parse_error(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->line)
		n = snprintf(p->err, p->errlen, "%s:%d: ", p->path, p->line);
	else
		n = snprintf(p->err, p->errlen, "%s: ", p->path);
	if (n < 0 || (size_t)n >= p->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A file named in the config, relative to the config's directory. */
static char *config_relative(const char *cfg_path, const char *file)
{
	const char *slash = strrchr(cfg_path, '/');
	char *out;

	if (file[0] == '/' || !slash)
		return strdup(file);
	if (asprintf(&out, "%.*s/%s", (int)(slash - cfg_path), cfg_path, file) <
	    0)
		return NULL;
	return out;
}

static int parse_seconds(const char *s, unsigned int *ms)
{
	char *end;
	double v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v <= 0 || v > 86400)
		return -EINVAL;
	*ms = (unsigned int)llround(v * 1000);
	if (*ms == 0)
		return -EINVAL;
	return 0;
}

static int parse_node_num(const char *s, int *num)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > BP_NODE_MAX)
		return -EINVAL;
	*num = (int)v;
	return 0;
}

static int add_node(struct parser *p, int num, const struct bp_addr *addr)
{
	struct bp_config *cfg = p->cfg;
	struct bp_node_conf *n;

	if (cfg->nr_nodes >= BP_NODES_MAX)
		return parse_error(p, "more than %d nodes", BP_NODES_MAX);
	if (cfg->nr_nodes == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		void *nodes = realloc(cfg->nodes, cap * sizeof(*n));

		if (!nodes)
			return parse_error(p, "out of memory");
		cfg->nodes = nodes;
		p->cap = cap;
	}
	n = &cfg->nodes[cfg->nr_nodes++];
	memset(n, 0, sizeof(*n));
	n->num = num;
	if (num == BP_NODE_MASTER)
		snprintf(n->name, sizeof(n->name), "master");
	else
		snprintf(n->name, sizeof(n->name), "node%d", num);
	n->addr = *addr;
	bp_addr_format((const struct sockaddr *)&addr->ss, n->addr_str,
		       sizeof(n->addr_str));
	n->line = p->line;
	return 0;
}

static int tag_master(struct parser *p, int argc, char **argv)
{
	struct bp_config *cfg = p->cfg;

	if (argc != 2)
		return parse_error(p, "usage: master ADDR[:PORT]");
	if (p->have_master)
		return parse_error(p, "duplicate master line");
	if (bp_addr_parse(argv[1], BPROC_MASTER_PORT, &cfg->master))
		return parse_error(p, "bad address '%s'", argv[1]);
	bp_addr_format((const struct sockaddr *)&cfg->master.ss,
		       cfg->master_str, sizeof(cfg->master_str));
	p->have_master = true;
	return 0;
}

static int tag_key(struct parser *p, int argc, char **argv)
{
	char reason[256];
	char *file;
	int err;

	if (argc != 2)
		return parse_error(p, "usage: key FILE");
	if (p->have_key)
		return parse_error(p, "duplicate key line");
	file = config_relative(p->path, argv[1]);
	if (!file)
		return parse_error(p, "out of memory");
	err = bp_key_load(file, &p->cfg->key, reason, sizeof(reason));
	free(file);
	if (err)
		return parse_error(p, "key %s: %s", argv[1], reason);
	p->have_key = true;
	return 0;
}

static int tag_seconds(struct parser *p, int argc, char **argv)
{
	bool is_hb = !strcmp(argv[0], "heartbeat");
	bool *have = is_hb ? &p->have_heartbeat : &p->have_timeout;
	unsigned int *ms = is_hb ? &p->cfg->heartbeat_ms : &p->cfg->timeout_ms;

	if (argc != 2)
		return parse_error(p, "usage: %s SECONDS", argv[0]);
	if (*have)
		return parse_error(p, "duplicate %s line", argv[0]);
	if (parse_seconds(argv[1], ms))
		return parse_error(p, "bad %s '%s' (seconds, above 0)", argv[0],
				   argv[1]);
	*have = true;
	return 0;
}

static int tag_fanout(struct parser *p, int argc, char **argv)
{
	char *end;
	long n;

	if (argc != 2)
		return parse_error(p, "usage: fanout N");
	if (p->have_fanout)
		return parse_error(p, "duplicate fanout line");
	errno = 0;
	n = strtol(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || n < 0 || n > BP_FANOUT_MAX ||
	    !isdigit((unsigned char)argv[1][0]))
		return parse_error(p, "bad fanout '%.64s' (0 to %d)", argv[1],
				   BP_FANOUT_MAX);
	p->cfg->fanout = (unsigned int)n;
	p->have_fanout = true;
	return 0;
}

static int tag_node(struct parser *p, int argc, char **argv)
{
	struct bp_addr addr;
	int num;

	if (argc != 3)
		return parse_error(p, "usage: node N ADDR[:PORT]");
	if (!strcmp(argv[1], "master")) {
		if (p->have_master_node)
			return parse_error(p, "duplicate node master");
		p->have_master_node = true;
		num = BP_NODE_MASTER;
	} else if (parse_node_num(argv[1], &num)) {
		return parse_error(p, "bad node number '%s' (0 to %d)", argv[1],
				   BP_NODE_MAX);
	}
	if (bp_addr_parse(argv[2], BPROC_NODE_PORT, &addr))
		return parse_error(p, "bad address '%s'", argv[2]);
	return add_node(p, num, &addr);
}

static int tag_iprange(struct parser *p, int argc, char **argv)
{
	struct bp_addr first, last;
	uint32_t a, b, i;
	int num, err;

	if (argc != 4)
		return parse_error(p, "usage: iprange N FIRST-ADDR LAST-ADDR");
	if (parse_node_num(argv[1], &num))
		return parse_error(p, "bad node number '%s' (0 to %d)", argv[1],
				   BP_NODE_MAX);
	if (bp_addr_parse(argv[2], BPROC_NODE_PORT, &first) ||
	    first.ss.ss_family != AF_INET)
		return parse_error(p, "bad IPv4 address '%s'", argv[2]);
	if (bp_addr_parse(argv[3], BPROC_NODE_PORT, &last) ||
	    last.ss.ss_family != AF_INET)
		return parse_error(p, "bad IPv4 address '%s'", argv[3]);

	struct sockaddr_in *f4 = (struct sockaddr_in *)&first.ss;
	struct sockaddr_in *l4 = (struct sockaddr_in *)&last.ss;

	if (f4->sin_port != l4->sin_port)
		return parse_error(p, "iprange ends have different ports");
	a = ntohl(f4->sin_addr.s_addr);
	b = ntohl(l4->sin_addr.s_addr);
	if (b < a)
		return parse_error(p, "iprange last address before first");
	if ((uint64_t)num + (b - a) > BP_NODE_MAX)
		return parse_error(p, "iprange goes past node %d", BP_NODE_MAX);
	for (i = 0; i <= b - a; i++) {
		struct bp_addr addr = first;

		((struct sockaddr_in *)&addr.ss)->sin_addr.s_addr =
			htonl(a + i);
		err = add_node(p, num + (int)i, &addr);
		if (err)
			return err;
	}
	return 0;
}

static int tag_state(struct parser *p, int argc, char **argv)
{
	if (argc != 2)
		return parse_error(p, "usage: state FILE");
	if (p->cfg->state_path)
		return parse_error(p, "duplicate state line");
	p->cfg->state_path = config_relative(p->path, argv[1]);
	if (!p->cfg->state_path)
		return parse_error(p, "out of memory");
	return 0;
}

int bp_send_parse(const char *word)
{
	if (!strcmp(word, "path"))
		return BPROC_SEND_PATH;
	if (!strcmp(word, "whole"))
		return BPROC_SEND_WHOLE;
	if (!strcmp(word, "auto"))
		return BPROC_SEND_AUTO;
	return -EINVAL;
}

const char *bp_send_name(unsigned int send)
{
	switch (send) {
	case BPROC_SEND_PATH:
		return "path";
	case BPROC_SEND_WHOLE:
		return "whole";
	case BPROC_SEND_AUTO:
		return "auto";
	default:
		return "?";
	}
}

static int tag_send(struct parser *p, int argc, char **argv)
{
	struct send_line *s;
	int num, mode;
	size_t i;

	if (argc != 3)
		return parse_error(p,
				   "usage: send N|master|all path|whole|auto");
	if (!strcmp(argv[1], "all"))
		num = SEND_ALL;
	else if (!strcmp(argv[1], "master"))
		num = BP_NODE_MASTER;
	else if (parse_node_num(argv[1], &num))
		return parse_error(p, "bad node '%s' (a number, master or all)",
				   argv[1]);
	mode = bp_send_parse(argv[2]);
	if (mode < 0)
		return parse_error(p,
				   "bad send mode '%.64s' (path, whole or "
				   "auto)",
				   argv[2]);
	for (i = 0; i < p->nr_sends; i++)
		if (p->sends[i].num == num)
			return parse_error(p,
					   "duplicate send line for %s "
					   "(line %d)",
					   argv[1], p->sends[i].line);
	s = realloc(p->sends, (p->nr_sends + 1) * sizeof(*s));
	if (!s)
		return parse_error(p, "out of memory");
	p->sends = s;
	s[p->nr_sends].num = num;
	s[p->nr_sends].send = (unsigned int)mode;
	s[p->nr_sends].line = p->line;
	p->nr_sends++;
	return 0;
}

/* Each node's send mode: its own line, else the "all" line, else auto. */
static int apply_sends(struct parser *p)
{
	struct bp_config *cfg = p->cfg;
	unsigned int all = BPROC_SEND_AUTO;
	size_t i, j;

	for (i = 0; i < p->nr_sends; i++)
		if (p->sends[i].num == SEND_ALL)
			all = p->sends[i].send;
	for (j = 0; j < cfg->nr_nodes; j++)
		cfg->nodes[j].send = all;
	for (i = 0; i < p->nr_sends; i++) {
		bool found = false;

		if (p->sends[i].num == SEND_ALL)
			continue;
		for (j = 0; j < cfg->nr_nodes; j++)
			if (cfg->nodes[j].num == p->sends[i].num) {
				cfg->nodes[j].send = p->sends[i].send;
				found = true;
			}
		if (!found) {
			p->line = p->sends[i].line;
			return parse_error(p,
					   "send line for node %d, which "
					   "is not configured",
					   p->sends[i].num);
		}
	}
	return 0;
}

static const struct {
	const char *tag;
	int (*parse)(struct parser *p, int argc, char **argv);
} tags[] = {
	{ "master", tag_master },     { "key", tag_key },
	{ "heartbeat", tag_seconds }, { "timeout", tag_seconds },
	{ "node", tag_node },	      { "iprange", tag_iprange },
	{ "state", tag_state },	      { "send", tag_send },
	{ "fanout", tag_fanout },
};

static int parse_line(struct parser *p, char *line)
{
	char *argv[MAX_ARGS + 1];
	char *save = NULL, *tok;
	int argc = 0;
	size_t i;

	line[strcspn(line, "#")] = '\0';
	for (tok = strtok_r(line, " \t\r\n", &save); tok;
	     tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (argc == MAX_ARGS)
			return parse_error(p, "too many words");
		argv[argc++] = tok;
	}
	if (argc == 0)
		return 0;
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (!strcmp(argv[0], tags[i].tag))
			return tags[i].parse(p, argc, argv);
	return parse_error(p, "unknown tag '%.64s'", argv[0]);
}

static int cmp_node_num(const void *a, const void *b)
{
	const struct bp_node_conf *x = a, *y = b;

	if (x->num != y->num)
		return x->num < y->num ? -1 : 1;
	return x->line - y->line;
}

static int cmp_node_addr(const void *a, const void *b)
{
	const struct bp_node_conf *const *x = a, *const *y = b;
	int r;

	if ((*x)->addr.len != (*y)->addr.len)
		return (*x)->addr.len < (*y)->addr.len ? -1 : 1;
	r = memcmp(&(*x)->addr.ss, &(*y)->addr.ss, (*x)->addr.len);
	return r ? r : (*x)->line - (*y)->line;
}

/* Duplicates of number or address, reported at the later line. */
static int check_nodes(struct parser *p)
{
	struct bp_config *cfg = p->cfg;
	struct bp_node_conf **by_addr;
	size_t i;
	int err = 0;

	qsort(cfg->nodes, cfg->nr_nodes, sizeof(*cfg->nodes), cmp_node_num);
	for (i = 1; i < cfg->nr_nodes; i++) {
		if (cfg->nodes[i].num == cfg->nodes[i - 1].num) {
			p->line = cfg->nodes[i].line;
			return parse_error(p, "duplicate %s (line %d)",
					   cfg->nodes[i].name,
					   cfg->nodes[i - 1].line);
		}
	}
	by_addr = calloc(cfg->nr_nodes, sizeof(*by_addr));
	if (!by_addr)
		return parse_error(p, "out of memory");
	for (i = 0; i < cfg->nr_nodes; i++)
		by_addr[i] = &cfg->nodes[i];
	qsort(by_addr, cfg->nr_nodes, sizeof(*by_addr), cmp_node_addr);
	for (i = 1; i < cfg->nr_nodes; i++) {
		if (bp_addr_same(&by_addr[i]->addr, &by_addr[i - 1]->addr)) {
			p->line = by_addr[i]->line;
			err = parse_error(p, "%s has the address of %s (%s)",
					  by_addr[i]->name,
					  by_addr[i - 1]->name,
					  by_addr[i]->addr_str);
			break;
		}
	}
	free(by_addr);
	return err;
}

int bp_config_load(const char *path, struct bp_config *cfg, char *err,
		   size_t errlen)
{
	struct parser p = {
		.path = path,
		.err = err,
		.errlen = errlen,
		.cfg = cfg,
	};
	size_t linecap = 0;
	char *line = NULL;
	FILE *f;
	int ret = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->heartbeat_ms = 1000;
	cfg->timeout_ms = 3000;
	cfg->fanout = BPROC_TREE_FANOUT;
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	while (getline(&line, &linecap, f) >= 0) {
		p.line++;
		ret = parse_line(&p, line);
		if (ret)
			goto out_free;
	}
	if (ferror(f)) {
		ret = parse_error(&p, "read error");
		goto out_free;
	}
	p.line = 0;
	if (!p.have_master) {
		ret = parse_error(&p, "no master line");
		goto out_free;
	}
	if (!p.have_key) {
		ret = parse_error(&p, "no key line: the cluster needs a key");
		goto out_free;
	}
	if (cfg->timeout_ms < cfg->heartbeat_ms) {
		ret = parse_error(&p,
				  "timeout (%u ms) is shorter than the "
				  "heartbeat (%u ms)",
				  cfg->timeout_ms, cfg->heartbeat_ms);
		goto out_free;
	}
	if (!p.have_master_node) {
		/* the front end's agent: the master's IP, the node port */
		struct bp_addr a = cfg->master;

		if (a.ss.ss_family == AF_INET)
			((struct sockaddr_in *)&a.ss)->sin_port =
				htons(BPROC_NODE_PORT);
		else
			((struct sockaddr_in6 *)&a.ss)->sin6_port =
				htons(BPROC_NODE_PORT);
		ret = add_node(&p, BP_NODE_MASTER, &a);
		if (ret)
			goto out_free;
	}
	ret = check_nodes(&p);
	if (ret)
		goto out_free;
	ret = apply_sends(&p);
	if (ret)
		goto out_free;
	if (!cfg->state_path) {
		cfg->state_path = strdup(BP_STATE_DEFAULT);
		if (!cfg->state_path) {
			ret = parse_error(&p, "out of memory");
			goto out_free;
		}
	}
	cfg->path = strdup(path);
	if (!cfg->path)
		ret = parse_error(&p, "out of memory");

out_free:
	free(p.sends);
	free(line);
	fclose(f);
	if (ret)
		bp_config_free(cfg);
	return ret;
}

void bp_config_free(struct bp_config *cfg)
{
	free(cfg->path);
	free(cfg->state_path);
	free(cfg->nodes);
	sodium_memzero(&cfg->key, sizeof(cfg->key));
	memset(cfg, 0, sizeof(*cfg));
}

const struct bp_node_conf *bp_config_find(const struct bp_config *cfg,
					  const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nr_nodes; i++)
		if (!strcmp(cfg->nodes[i].name, name))
			return &cfg->nodes[i];
	return NULL;
}

int bp_key_load(const char *path, struct bp_key *key, char *err, size_t errlen)
{
	uint8_t buf[KEY_FILE_MAX + 1];
	struct stat st;
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, errlen, "not a regular file");
		goto out_close;
	}
	if (st.st_mode & 077) {
		ret = -EPERM;
		snprintf(err, errlen,
			 "mode %04o lets others read it; chmod 600 it",
			 (unsigned int)(st.st_mode & 07777));
		goto out_close;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		goto out_close;
	}
	if (n < BP_KEY_BYTES || n > KEY_FILE_MAX) {
		ret = -EINVAL;
		snprintf(err, errlen,
			 "%zd bytes; a key is %d to %d bytes "
			 "(head -c 32 /dev/urandom)",
			 n, BP_KEY_BYTES, KEY_FILE_MAX);
		goto out_wipe;
	}
	crypto_generichash(key->k, sizeof(key->k), buf, n, NULL, 0);

out_wipe:
	sodium_memzero(buf, sizeof(buf));
out_close:
	close(fd);
	return ret;
}
