/*
 * spring.c - Spring Boot's property sources in a pod spec, to the HikariCP pool size.
 *
 * References, all from docs.spring.io/spring-boot/reference/features/external-config.html
 * ("Externalized Configuration") unless said otherwise:
 * - the PropertySource order: config data < OS environment variables < Java
 *   system properties < SPRING_APPLICATION_JSON < command line arguments;
 * - config data: file:./, file:./config/, file:./config/<each>/ (later wins), profile
 *   files over non-profile ones of the same location group, .properties over
 *   YAML in the same location, the last active profile wins;
 * - spring.config.location replaces the default locations,
 *   spring.config.additional-location adds ones that override them; a file
 *   location is also tried with profile variants; "optional:" prefixes;
 *   ";" groups locations, "," separates groups; `[.yaml]` extension hints;
 * - spring.config.import: the imported file overrides the one that imports it;
 *   configtree: file names are property names;
 * - multi-document files: YAML "---", .properties "#---" or "!---" lines;
 *   spring.config.activate.on-profile (a list of profile expressions with
 *   !, &, |) and on-cloud-platform (Kubernetes is detected from its service
 *   variables, always set in a pod);
 * - "Binding From Environment Variables": dots to underscores, dashes removed,
 *   upper case. Spring Boot's SystemEnvironmentPropertyMapper also maps the
 *   "legacy" form with dashes as underscores, so both
 *   SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE and
 *   SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE bind, the first one first;
 * - relaxed binding of property names in files and arguments: elements are
 *   compared lower case with only letters and digits kept ("Relaxed Binding
 *   2.0" on the Spring Boot wiki), so maximumPoolSize and maximum_pool_size
 *   bind like maximum-pool-size.
 * The JVM reads JAVA_TOOL_OPTIONS before its command line and _JAVA_OPTIONS
 * after it; the java launcher puts JDK_JAVA_OPTIONS in front of its arguments.
 * Kubernetes expands $(VAR) in env values (earlier variables) and in command
 * and args (all of them); $$ stands for $.
 *
 * Everything parsed is capped: SPRING_MAX_TEXT per text, SPRING_MAX_YAML_NODES
 * per YAML file (aliases counted each time they are walked), SP_MAX_FILES
 * files and SP_MAX_DOCS documents per container, SP_MAX_DEPTH levels of
 * imports and of placeholders.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "poolguard/spring.h"

#define SP_MAX_FILES 64
#define SP_MAX_DOCS 256
#define SP_MAX_DEPTH 4
#define SP_MAX_PLACEHOLDER_DEPTH 8
#define SP_MAX_PROFILES 8
#define SP_MAX_LOCATIONS 16
#define SP_MAX_NAMES 4
#define SP_MAX_TOKENS 1024
#define SP_MAX_YAML_DEPTH 64
#define SP_PATH_MAX 512
#define SP_KEY_MAX 256

/* The properties that matter; names in their documented (dashed) form. */
enum sp_prop {
	SP_POOL,
	SP_ACTIVE,
	SP_DEFAULT,
	SP_LOCATION,
	SP_ADDLOC,
	SP_IMPORT,
	SP_NAME,
	SP_ONPROFILE,
	SP_ONCLOUD,
	SP_APPJSON,
	SP_COUNT
};

static const char *const sp_prop_names[SP_COUNT] = {
	"spring.datasource.hikari.maximum-pool-size",
	"spring.profiles.active",
	"spring.profiles.default",
	"spring.config.location",
	"spring.config.additional-location",
	"spring.config.import",
	"spring.config.name",
	"spring.config.activate.on-profile",
	"spring.config.activate.on-cloud-platform",
	"spring.application.json",
};

#define SP_ALL_PROPS ((1u << SP_COUNT) - 1)

/*
 * One property source document: the properties it sets, or marks unknown
 * (set by something poolguard cannot read). Strings belong to the context.
 */
struct sp_doc {
	char *v[SP_COUNT];
	unsigned unknown;		/* bit per property */
	const char *label;		/* "args", "ConfigMap x key y (mounted at /d)" */
	const char *plabel[SP_COUNT];	/* per property, when it differs from label */
};

/* A parsed file: its documents in order, or why it does not parse. */
struct sp_file {
	struct sp_doc *docs;
	size_t count;
	const char *invalid;	/* parse error, or NULL */
	int unknown;		/* a digest that could not be kept whole */
};

/* What an env variable of the container holds, as Kubernetes builds the environment. */
struct sp_env {
	int set;
	int unknown;
	const char *value;
	char label[SPRING_SOURCE_MAX];	/* "env X", "env X (ConfigMap m key k)", or what hides it */
};

/* What a path in the container is: nothing poolguard knows, a ConfigMap key, or unreadable. */
enum sp_where { SP_IMAGE, SP_CONFIGMAP_KEY, SP_UNREADABLE };

struct sp_location {
	enum { SP_LOC_DIR, SP_LOC_FILE, SP_LOC_TREE } kind;
	char path[SP_PATH_MAX];		/* absolute; a directory ends in '/' */
	char ext[16];			/* an extension hint "[.yaml]", or "" */
	int optional;
	int wildcard;			/* a "config/<each>/" directory pattern */
};

struct sp_ctx {
	const cJSON *container, *pod_spec;
	const char *ns, *cname;
	const char *const *pool_vars;
	size_t pool_var_count;
	const struct spring_configmaps *maps;
	struct spring_pool *out;
	struct pg_error *err;
	int result;
	void **allocs;
	size_t nallocs, aallocs;
	char workdir[SP_PATH_MAX];	/* no trailing '/' unless "/" */
	/* Environment-level sources, highest first. */
	struct sp_doc *layers[4];
	size_t nlayers;
	/* Config data documents, lowest first. */
	struct sp_doc **docs;
	size_t ndocs, adocs;
	size_t files;
	int with_profiles;
	char profiles[SP_MAX_PROFILES][64];
	size_t nprofiles;
	char names[SP_MAX_NAMES][64];
	size_t nnames;
};

/* Allocation: everything lives until spring_container_pool() returns. */

static void *
sp_alloc(struct sp_ctx *c, size_t size)
{
	void *p, **grown;

	if (c->result)
		return NULL;
	if (c->nallocs == c->aallocs) {
		size_t alloc = c->aallocs ? c->aallocs * 2 : 64;

		if ((grown = realloc(c->allocs, alloc * sizeof(*grown))) == NULL)
			goto nomem;
		c->allocs = grown;
		c->aallocs = alloc;
	}
	if ((p = calloc(1, size ? size : 1)) == NULL)
		goto nomem;
	c->allocs[c->nallocs++] = p;
	return p;
nomem:
	c->result = pg_error_set(c->err, PG_ERR_NOMEM, "out of memory");
	return NULL;
}

static char *
sp_strndup(struct sp_ctx *c, const char *s, size_t n)
{
	char *p = sp_alloc(c, n + 1);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

static char *
sp_strdup(struct sp_ctx *c, const char *s)
{
	return sp_strndup(c, s, strlen(s));
}

static char *
sp_printf(struct sp_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *
sp_printf(struct sp_ctx *c, const char *fmt, ...)
{
	char buf[SP_PATH_MAX + SPRING_SOURCE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return sp_strdup(c, buf);
}

static void
sp_release(struct sp_ctx *c)
{
	size_t i;

	for (i = 0; i < c->nallocs; i++)
		free(c->allocs[i]);
	free(c->allocs);
	free(c->docs);
}

static const cJSON *
sp_get(const cJSON *o, const char *key)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static const char *
sp_string(const cJSON *o, const char *key)
{
	const cJSON *v = sp_get(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A string member, or "" when absent: for messages. */
static const char *
sp_str(const cJSON *o, const char *key)
{
	const char *s = sp_string(o, key);

	return s ? s : "";
}

/*
 * A property name in Spring Boot's uniform form: elements split at '.', only
 * letters and digits kept, lower case; [index] parts dropped. Returns 0, or
 * -1 when it does not fit.
 */
static int
sp_canon(const char *name, size_t len, char *out, size_t size)
{
	size_t i, n = 0;
	int bracket = 0;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch == '[')
			bracket = 1;
		else if (ch == ']')
			bracket = 0;
		else if (bracket)
			continue;
		else if (ch == '.') {
			if (n > 0 && out[n - 1] != '.') {
				if (n + 1 >= size)
					return -1;
				out[n++] = '.';
			}
		} else if (isalnum(ch)) {
			if (n + 1 >= size)
				return -1;
			out[n++] = (char)tolower(ch);
		}
	}
	while (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	return 0;
}

/* The property a name binds to, or -1. */
static int
sp_prop_of(const char *name, size_t len)
{
	char a[SP_KEY_MAX], b[SP_KEY_MAX];
	int p;

	if (sp_canon(name, len, a, sizeof(a)))
		return -1;
	for (p = 0; p < SP_COUNT; p++) {
		sp_canon(sp_prop_names[p], strlen(sp_prop_names[p]), b, sizeof(b));
		if (strcmp(a, b) == 0)
			return p;
	}
	return -1;
}

/* 1 when canonical prefix a is a proper prefix (at an element boundary) of a property. */
static int
sp_prop_prefix(const char *canon)
{
	char b[SP_KEY_MAX];
	size_t n = strlen(canon);
	int p;

	for (p = 0; p < SP_COUNT; p++) {
		sp_canon(sp_prop_names[p], strlen(sp_prop_names[p]), b, sizeof(b));
		if (strncmp(b, canon, n) == 0 && b[n] == '.')
			return 1;
	}
	return 0;
}

static void
sp_doc_set(struct sp_ctx *c, struct sp_doc *d, int p, const char *value, size_t len)
{
	d->v[p] = sp_strndup(c, value, len);
	d->unknown &= ~(1u << p);
}

/* Documents of a file being parsed. */
static struct sp_doc *
sp_file_add_doc(struct sp_ctx *c, struct sp_file *f)
{
	struct sp_doc *grown;

	if (f->count >= SP_MAX_DOCS)
		return NULL;
	if ((grown = sp_alloc(c, (f->count + 1) * sizeof(*grown))) == NULL)
		return NULL;
	if (f->count)
		memcpy(grown, f->docs, f->count * sizeof(*grown));
	f->docs = grown;
	return &f->docs[f->count++];
}

/* .properties, as java.util.Properties.load() reads it, plus Spring's "#---" documents. */

static int
sp_hex(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Appends code point cp as UTF-8. */
static size_t
sp_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	out[0] = (char)(0xe0 | (cp >> 12));
	out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

/*
 * Unescapes a properties key or value from the logical line [s, end) into
 * out (at least 3 * (end - s) + 1 long). Stops, for a key, at the first
 * unescaped separator; *stop is where it stopped.
 */
static size_t
sp_prop_unescape(const char *s, const char *end, int key, char *out, const char **stop)
{
	size_t n = 0;
	int h, i;
	unsigned cp;

	while (s < end) {
		if (key && (*s == '=' || *s == ':' || *s == ' ' || *s == '\t' || *s == '\f'))
			break;
		if (*s != '\\') {
			out[n++] = *s++;
			continue;
		}
		if (++s >= end)
			break;
		switch (*s) {
		case 't': out[n++] = '\t'; s++; break;
		case 'n': out[n++] = '\n'; s++; break;
		case 'r': out[n++] = '\r'; s++; break;
		case 'f': out[n++] = '\f'; s++; break;
		case 'u':
			for (cp = 0, i = 1; i <= 4 && s + i < end && (h = sp_hex(s[i])) >= 0; i++)
				cp = cp * 16 + (unsigned)h;
			n += sp_utf8(out + n, cp);
			s += i;
			break;
		default:
			out[n++] = *s++;
		}
	}
	out[n] = '\0';
	if (stop)
		*stop = s;
	return n;
}

/* Handles one logical line [s, end), continuations already joined. */
static void
sp_prop_line(struct sp_ctx *c, struct sp_doc *d, const char *s, const char *end)
{
	char *buf;
	const char *p;
	size_t klen, vlen;
	int prop;

	if ((buf = sp_alloc(c, 3 * (size_t)(end - s) + 2)) == NULL)
		return;
	klen = sp_prop_unescape(s, end, 1, buf, &p);
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\f'))
		p++;
	if (p < end && (*p == '=' || *p == ':'))
		p++;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\f'))
		p++;
	if ((prop = sp_prop_of(buf, klen)) < 0)
		return;
	vlen = sp_prop_unescape(p, end, 0, buf, NULL);
	sp_doc_set(c, d, prop, buf, vlen);
}

/*
 * One line of a .properties text from p: *line to *eol, leading white space
 * skipped, without its end (LF, CR or CRLF). Returns where the next starts.
 */
static const char *
sp_next_line(const char *p, const char *end, const char **line, const char **eol)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\f'))
		p++;
	*line = p;
	*eol = p;
	while (*eol < end && **eol != '\n' && **eol != '\r')
		(*eol)++;
	p = *eol < end ? *eol + 1 : end;
	if (*eol < end && **eol == '\r' && p < end && *p == '\n')
		p++;
	return p;
}

/*
 * Reads .properties text. Logical lines join natural lines that end in an odd
 * number of backslashes; comment lines (# or !) are never continued.
 */
static void
sp_parse_properties(struct sp_ctx *c, const char *text, size_t len, int digest,
    struct sp_file *f)
{
	const char *p = text, *end = text + len, *line, *eol, *q;
	char *logical = NULL;
	size_t llen, lalloc = 0, backslashes;
	struct sp_doc *d = sp_file_add_doc(c, f);

	while (d != NULL && p < end && c->result == PG_OK) {
		p = sp_next_line(p, end, &line, &eol);
		if (line == eol)
			continue;
		if (*line == '#' || *line == '!') {
			for (q = line + 4; q < eol && isspace((unsigned char)*q); q++)
				;
			/* Spring's separator: "#---" or "!---" first on its line, alone. */
			if (eol - line >= 4 && strncmp(line + 1, "---", 3) == 0 && q == eol &&
			    (line == text || line[-1] == '\n' || line[-1] == '\r')) {
				d = sp_file_add_doc(c, f);
				continue;
			}
			if (digest && eol - line > 10 && strncmp(line, "#!invalid ", 10) == 0)
				f->invalid = sp_strndup(c, line + 10, (size_t)(eol - line - 10));
			if (digest && eol - line >= 9 && strncmp(line, "#!unknown", 9) == 0)
				f->unknown = 1;
			continue;
		}
		/* Join continuation lines into one buffer of this logical line. */
		llen = 0;
		for (;;) {
			size_t n = (size_t)(eol - line);

			for (backslashes = 0; backslashes < n && line[n - 1 - backslashes] == '\\';
			    backslashes++)
				;
			if (backslashes % 2 == 1)
				n--;
			if (llen + n + 1 > lalloc) {
				char *grown;

				lalloc = (llen + n + 1) * 2;
				if ((grown = sp_alloc(c, lalloc)) == NULL)
					return;
				if (llen)
					memcpy(grown, logical, llen);
				logical = grown;
			}
			memcpy(logical + llen, line, n);
			llen += n;
			if (backslashes % 2 == 0 || p >= end)
				break;
			p = sp_next_line(p, end, &line, &eol);
		}
		sp_prop_line(c, d, logical, logical + llen);
	}
}

/* YAML through libyaml's document API, as src/manifest.c reads manifests. */

struct sp_yaml {
	struct sp_ctx *c;
	yaml_document_t *doc;
	struct sp_doc *d;
	size_t nodes;
	int toobig;
};

/* A scalar or a list of scalars ("a, b"), as Spring binds a string property from either. */
static void
sp_yaml_value(struct sp_yaml *y, int prop, yaml_node_t *node)
{
	yaml_node_item_t *item;
	yaml_node_t *child;
	char buf[SP_PATH_MAX * 2];
	size_t n = 0, len;

	if (node->type == YAML_SCALAR_NODE) {
		const char *s = (const char *)node->data.scalar.value;

		len = node->data.scalar.length;
		/* A plain null (~, null, empty) leaves the property unset. */
		if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && (len == 0 ||
		    strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
		    strcmp(s, "NULL") == 0))
			return;
		sp_doc_set(y->c, y->d, prop, s, len);
		return;
	}
	if (node->type != YAML_SEQUENCE_NODE)
		return;
	buf[0] = '\0';
	for (item = node->data.sequence.items.start; item < node->data.sequence.items.top;
	    item++) {
		child = yaml_document_get_node(y->doc, *item);
		if (child == NULL || child->type != YAML_SCALAR_NODE)
			continue;
		len = child->data.scalar.length;
		if (n + len + 2 >= sizeof(buf))
			break;
		if (n > 0)
			buf[n++] = ',';
		memcpy(buf + n, child->data.scalar.value, len);
		n += len;
		buf[n] = '\0';
	}
	sp_doc_set(y->c, y->d, prop, buf, n);
}

/* Walks a mapping under canonical prefix; keys may be dotted or nested, or both. */
static void
sp_yaml_walk(struct sp_yaml *y, yaml_node_t *node, const char *prefix, int depth)
{
	yaml_node_pair_t *pair;
	yaml_node_t *key, *value;
	char path[SP_KEY_MAX], canon[SP_KEY_MAX];
	int prop, n;

	if (node == NULL || node->type != YAML_MAPPING_NODE || depth > SP_MAX_YAML_DEPTH)
		return;
	for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
		if (++y->nodes > SPRING_MAX_YAML_NODES) {
			y->toobig = 1;
			return;
		}
		key = yaml_document_get_node(y->doc, pair->key);
		value = yaml_document_get_node(y->doc, pair->value);
		if (key == NULL || key->type != YAML_SCALAR_NODE || value == NULL)
			continue;
		n = snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "",
		    (const char *)key->data.scalar.value);
		if (n < 0 || (size_t)n >= sizeof(path) || sp_canon(path, (size_t)n, canon,
		    sizeof(canon)))
			continue;
		if ((prop = sp_prop_of(canon, strlen(canon))) >= 0)
			sp_yaml_value(y, prop, value);
		else if (value->type == YAML_MAPPING_NODE && sp_prop_prefix(canon))
			sp_yaml_walk(y, value, canon, depth + 1);
	}
}

static void
sp_parse_yaml(struct sp_ctx *c, const char *text, size_t len, struct sp_file *f)
{
	struct sp_yaml y;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;

	memset(&y, 0, sizeof(y));
	y.c = c;
	if (!yaml_parser_initialize(&parser)) {
		c->result = pg_error_set(c->err, PG_ERR_NOMEM, "out of memory");
		return;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (c->result == PG_OK) {
		if (!yaml_parser_load(&parser, &doc)) {
			f->invalid = sp_printf(c, "invalid YAML: line %zu: %s",
			    parser.problem_mark.line + 1,
			    parser.problem ? parser.problem : "error");
			break;
		}
		if ((root = yaml_document_get_root_node(&doc)) == NULL) {
			yaml_document_delete(&doc);
			break;
		}
		if ((y.d = sp_file_add_doc(c, f)) == NULL) {
			yaml_document_delete(&doc);
			if (c->result == PG_OK)
				y.toobig = 1;
			break;
		}
		y.doc = &doc;
		sp_yaml_walk(&y, root, "", 0);
		yaml_document_delete(&doc);
		if (y.toobig)
			break;
	}
	if (y.toobig && f->invalid == NULL)
		f->invalid = sp_printf(c, "more than %d YAML nodes or %d documents",
		    SPRING_MAX_YAML_NODES, SP_MAX_DOCS);
	yaml_parser_delete(&parser);
}

/* JSON (SPRING_APPLICATION_JSON): nested objects and dotted keys, like YAML. */

static void
sp_json_walk(struct sp_ctx *c, struct sp_doc *d, const cJSON *node, const char *prefix,
    int depth, size_t *nodes)
{
	const cJSON *child, *item;
	char path[SP_KEY_MAX], canon[SP_KEY_MAX], num[64], buf[SP_PATH_MAX];
	int prop, n;
	size_t len;

	if (depth > SP_MAX_YAML_DEPTH)
		return;
	cJSON_ArrayForEach(child, node) {
		if (++*nodes > SPRING_MAX_YAML_NODES)
			return;
		n = snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "",
		    child->string ? child->string : "");
		if (n < 0 || (size_t)n >= sizeof(path) || sp_canon(path, (size_t)n, canon,
		    sizeof(canon)))
			continue;
		prop = sp_prop_of(canon, strlen(canon));
		if (prop < 0) {
			if (cJSON_IsObject(child) && sp_prop_prefix(canon))
				sp_json_walk(c, d, child, canon, depth + 1, nodes);
			continue;
		}
		if (cJSON_IsString(child))
			sp_doc_set(c, d, prop, child->valuestring, strlen(child->valuestring));
		else if (cJSON_IsNumber(child)) {
			if (child->valuedouble == (double)(long long)child->valuedouble &&
			    child->valuedouble > -1e15 && child->valuedouble < 1e15)
				snprintf(num, sizeof(num), "%lld", (long long)child->valuedouble);
			else
				snprintf(num, sizeof(num), "%g", child->valuedouble);
			sp_doc_set(c, d, prop, num, strlen(num));
		} else if (cJSON_IsBool(child))
			sp_doc_set(c, d, prop, cJSON_IsTrue(child) ? "true" : "false",
			    cJSON_IsTrue(child) ? 4 : 5);
		else if (cJSON_IsArray(child)) {
			len = 0;
			buf[0] = '\0';
			cJSON_ArrayForEach(item, child) {
				size_t l;

				if (!cJSON_IsString(item))
					continue;
				l = strlen(item->valuestring);
				if (len + l + 2 >= sizeof(buf))
					break;
				if (len)
					buf[len++] = ',';
				memcpy(buf + len, item->valuestring, l + 1);
				len += l;
			}
			sp_doc_set(c, d, prop, buf, len);
		}
	}
}

static void
sp_parse_json(struct sp_ctx *c, const char *text, size_t len, struct sp_file *f)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	struct sp_doc *d;
	size_t nodes = 0;

	if (!cJSON_IsObject(root)) {
		f->invalid = root ? "not a JSON object" : "invalid JSON";
		cJSON_Delete(root);
		return;
	}
	if ((d = sp_file_add_doc(c, f)) != NULL)
		sp_json_walk(c, d, root, "", 0, &nodes);
	cJSON_Delete(root);
}

static int
sp_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

enum sp_format { SP_FMT_NONE, SP_FMT_PROPERTIES, SP_FMT_YAML, SP_FMT_JSON };

static enum sp_format
sp_format_of(const char *name)
{
	if (sp_ends_with(name, ".properties"))
		return SP_FMT_PROPERTIES;
	if (sp_ends_with(name, ".yml") || sp_ends_with(name, ".yaml"))
		return SP_FMT_YAML;
	return SP_FMT_NONE;
}

/* Parses text (a full text or a digest) in format into f. */
static void
sp_parse(struct sp_ctx *c, const char *text, enum sp_format format, struct sp_file *f)
{
	size_t len = strlen(text);

	memset(f, 0, sizeof(*f));
	if (strncmp(text, SPRING_DIGEST_MARK, strlen(SPRING_DIGEST_MARK)) == 0) {
		sp_parse_properties(c, text, len, 1, f);
		return;
	}
	if (len > SPRING_MAX_TEXT) {
		f->invalid = "longer than 1 MiB";
		return;
	}
	if (format == SP_FMT_PROPERTIES)
		sp_parse_properties(c, text, len, 0, f);
	else if (format == SP_FMT_YAML)
		sp_parse_yaml(c, text, len, f);
	else if (format == SP_FMT_JSON)
		sp_parse_json(c, text, len, f);
}

/* The container's environment, as Kubernetes builds it. */

static const char *sp_expand(struct sp_ctx *c, const char *s, int limit, int depth,
    int *unknown, char *why, size_t why_size);

static void
sp_env_unknown(struct sp_env *e, const char *fmt, const char *a, const char *b)
{
	e->set = 1;
	e->unknown = 1;
	e->value = NULL;
	snprintf(e->label, sizeof(e->label), fmt, a, b);
}

/* A ConfigMap key for an env variable; a missing ConfigMap is unknown unless optional. */
static void
sp_env_configmap(struct sp_ctx *c, const char *var, const char *map, const char *key,
    int optional, int must_exist, struct sp_env *e)
{
	const char *value;
	int map_found = 0;

	c->out->from_configmap = 1;
	if (c->maps == NULL || c->maps->value == NULL) {
		if (must_exist)
			sp_env_unknown(e, "ConfigMap '%.40s' key '%.40s', not readable here", map,
			    key);
		return;
	}
	value = c->maps->value(c->maps->ctx, c->ns, map, key, &map_found);
	if (value != NULL) {
		e->set = 1;
		e->unknown = 0;
		e->value = value;
		snprintf(e->label, sizeof(e->label), "env %.50s (ConfigMap %.30s key %.30s)", var,
		    map, key);
	} else if (!map_found && !optional)
		sp_env_unknown(e, "ConfigMap '%.40s' (missing%.0s)", map, key);
	else if (must_exist && !optional)
		sp_env_unknown(e, "ConfigMap '%.40s' has no key '%.40s'", map, key);
}

/*
 * The value of variable name among the container's first limit env entries
 * (and all of envFrom): the last env entry of that name, else the last
 * envFrom source that defines it.
 */
static void
sp_env_get(struct sp_ctx *c, const char *name, int limit, int depth, struct sp_env *e)
{
	const cJSON *env = sp_get(c->container, "env"), *entry, *found = NULL, *from, *ref;
	const char *prefix, *map, *n;
	int i = 0, unknown = 0;
	size_t plen;

	memset(e, 0, sizeof(*e));
	cJSON_ArrayForEach(entry, env) {
		if (i >= limit)
			break;
		n = sp_string(entry, "name");
		if (n && strcmp(n, name) == 0) {
			found = entry;
			e->set = i + 1;	/* remembers the index for expansion */
		}
		i++;
	}
	if (found != NULL) {
		int index = e->set - 1;
		const cJSON *value = sp_get(found, "value");

		e->set = 1;
		from = sp_get(found, "valueFrom");
		snprintf(e->label, sizeof(e->label), "env %.100s", name);
		if (value != NULL || from == NULL) {
			if (!cJSON_IsString(value)) {
				e->value = "";
				return;
			}
			e->value = sp_expand(c, value->valuestring, index, depth + 1, &unknown,
			    e->label, sizeof(e->label));
			if (unknown) {
				e->unknown = 1;
				e->value = NULL;
			}
			return;
		}
		if ((ref = sp_get(from, "configMapKeyRef")) != NULL) {
			/* A missing optional key leaves the variable unset, as in Kubernetes. */
			e->set = 0;
			sp_env_configmap(c, name, sp_str(ref, "name"), sp_str(ref, "key"),
			    cJSON_IsTrue(sp_get(ref, "optional")), 1, e);
			if (!e->set)
				e->label[0] = '\0';
			return;
		}
		if ((ref = sp_get(from, "secretKeyRef")) != NULL)
			sp_env_unknown(e, "Secret '%.40s' key '%.40s'", sp_string(ref, "name") ?
			    sp_string(ref, "name") : "", sp_string(ref, "key") ?
			    sp_string(ref, "key") : "");
		else
			sp_env_unknown(e, "env %.60s (a field reference%.0s)", name, "");
		return;
	}
	cJSON_ArrayForEach(entry, sp_get(c->container, "envFrom")) {
		prefix = sp_string(entry, "prefix");
		prefix = prefix ? prefix : "";
		plen = strlen(prefix);
		if (strncmp(name, prefix, plen) != 0)
			continue;
		if ((ref = sp_get(entry, "secretRef")) != NULL) {
			/* poolguard never reads Secrets: whether this one sets it is unknown. */
			sp_env_unknown(e, "Secret '%.40s' in envFrom (for %.50s)", sp_str(ref, "name"),
			    name);
			continue;
		}
		if ((ref = sp_get(entry, "configMapRef")) == NULL ||
		    (map = sp_string(ref, "name")) == NULL)
			continue;
		sp_env_configmap(c, name, map, name + plen,
		    cJSON_IsTrue(sp_get(ref, "optional")), 0, e);
	}
}

/*
 * Kubernetes' $(VAR) expansion of s against the first limit env entries:
 * $$ is $, an undefined variable stays as written. *unknown is set (and why
 * filled) when a variable used comes from something poolguard cannot read.
 */
static const char *
sp_expand(struct sp_ctx *c, const char *s, int limit, int depth, int *unknown, char *why,
    size_t why_size)
{
	char name[SP_KEY_MAX], *out;
	const char *p, *close;
	size_t n = 0, cap, len;
	struct sp_env e;

	if (strchr(s, '$') == NULL || depth > 16)
		return s;
	cap = strlen(s) + 1;
	if (cap > SPRING_MAX_TEXT || (out = sp_alloc(c, cap)) == NULL)
		return s;
	for (p = s; *p;) {
		if (p[0] == '$' && p[1] == '$') {
			p += 2;
			goto literal_dollar;
		}
		if (p[0] != '$' || p[1] != '(' || (close = strchr(p + 2, ')')) == NULL ||
		    (size_t)(close - p - 2) >= sizeof(name) || close == p + 2) {
			out[n++] = *p++;
			continue;
		}
		memcpy(name, p + 2, (size_t)(close - p - 2));
		name[close - p - 2] = '\0';
		sp_env_get(c, name, limit, depth, &e);
		if (!e.set) {
			len = (size_t)(close + 1 - p);
		} else if (e.unknown) {
			*unknown = 1;
			snprintf(why, why_size, "%s", e.label);
			return s;
		} else {
			char *grown;

			len = strlen(e.value);
			if (cap + len > SPRING_MAX_TEXT || (grown = sp_alloc(c, cap + len)) == NULL)
				return s;
			memcpy(grown, out, n);
			out = grown;
			cap += len;
			memcpy(out + n, e.value, len);
			n += len;
			p = close + 1;
			continue;
		}
		memcpy(out + n, p, len);
		n += len;
		p += len;
		continue;
literal_dollar:
		out[n++] = '$';
	}
	out[n] = '\0';
	return out;
}

static int
sp_env_count(const struct sp_ctx *c)
{
	return cJSON_GetArraySize(sp_get(c->container, "env"));
}

/* The env names Spring Boot binds to a property: the uniform and the legacy forms. */
static void
sp_env_names(int prop, char *uniform, char *legacy, size_t size)
{
	const char *s = sp_prop_names[prop];
	size_t i, u = 0, l = 0;

	for (i = 0; s[i] && u + 1 < size && l + 1 < size; i++) {
		if (s[i] == '.') {
			uniform[u++] = '_';
			legacy[l++] = '_';
		} else if (s[i] == '-')
			legacy[l++] = '_';
		else {
			uniform[u++] = (char)toupper((unsigned char)s[i]);
			legacy[l++] = (char)toupper((unsigned char)s[i]);
		}
	}
	uniform[u] = '\0';
	legacy[l] = '\0';
}

/* 1 when env name binds to prop (underscores or dots as separators, any case, no dashes). */
static int
sp_env_binds(const char *name, int prop)
{
	char buf[SP_KEY_MAX], uniform[SP_KEY_MAX], legacy[SP_KEY_MAX];
	size_t i, n = strlen(name);

	/*
	 * The legacy form is looked up as written (SystemEnvironmentPropertySource
	 * tries the name and its upper case), so only the upper-case spelling binds.
	 */
	sp_env_names(prop, uniform, legacy, sizeof(uniform));
	if (strcmp(name, legacy) == 0)
		return 1;
	if (n >= sizeof(buf))
		return 0;
	for (i = 0; i <= n; i++)
		buf[i] = name[i] == '_' ? '.' : name[i];
	return sp_prop_of(buf, n) == prop;
}

/* The environment variables layer: for each property, the first binding variable set. */
static void
sp_env_layer(struct sp_ctx *c, struct sp_doc *d)
{
	char uniform[SP_KEY_MAX], legacy[SP_KEY_MAX];
	const char *names[3];
	const cJSON *entry;
	const char *n;
	struct sp_env e;
	int p, k, limit = sp_env_count(c);

	d->label = "env";
	for (p = 0; p < SP_COUNT && c->result == PG_OK; p++) {
		if (p == SP_ONPROFILE || p == SP_ONCLOUD || p == SP_APPJSON)
			continue;
		sp_env_names(p, uniform, legacy, sizeof(uniform));
		names[0] = uniform;
		names[1] = legacy;
		memset(&e, 0, sizeof(e));
		for (k = 0; k < 2 && !e.set; k++)
			sp_env_get(c, names[k], limit, 0, &e);
		/* Other spellings that bind: lower case, dots, dashes (env entries only). */
		cJSON_ArrayForEach(entry, sp_get(c->container, "env")) {
			if (e.set)
				break;
			n = sp_string(entry, "name");
			if (n && strcmp(n, uniform) != 0 && strcmp(n, legacy) != 0 &&
			    sp_env_binds(n, p))
				sp_env_get(c, n, limit, 0, &e);
		}
		if (!e.set)
			continue;
		d->plabel[p] = sp_strdup(c, e.label);
		if (e.unknown)
			d->unknown |= 1u << p;
		else
			sp_doc_set(c, d, p, e.value, strlen(e.value));
	}
}

/*
 * Splits a Java options string the way the JVM splits JAVA_TOOL_OPTIONS:
 * at white space, with '...' and "..." grouping (quotes removed). Tokens are
 * allocated in the context; returns their count.
 */
static size_t
sp_split_options(struct sp_ctx *c, const char *s, char **tokens, size_t max)
{
	size_t count = 0, n;
	char *buf, quote;

	if (strlen(s) > SPRING_MAX_TEXT || (buf = sp_alloc(c, strlen(s) + 1)) == NULL)
		return 0;
	while (*s && count < max) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		n = 0;
		while (*s && !isspace((unsigned char)*s)) {
			if (*s == '"' || *s == '\'') {
				quote = *s++;
				while (*s && *s != quote)
					buf[n++] = *s++;
				if (*s)
					s++;
			} else
				buf[n++] = *s++;
		}
		buf[n] = '\0';
		if ((tokens[count] = sp_strdup(c, buf)) == NULL)
			break;
		count++;
	}
	return count;
}

/* Sets a property from "name=value" (a -D option without its -D, or an arg without --). */
static void
sp_assign(struct sp_ctx *c, struct sp_doc *d, const char *option, const char *label)
{
	const char *eq = strchr(option, '=');
	int p = sp_prop_of(option, eq ? (size_t)(eq - option) : strlen(option));

	if (p < 0 || p == SP_ONPROFILE || p == SP_ONCLOUD)
		return;
	sp_doc_set(c, d, p, eq ? eq + 1 : "", eq ? strlen(eq + 1) : 0);
	d->plabel[p] = label;
}

/* The options of one option source, later ones overriding earlier ones. */
static void
sp_options(struct sp_ctx *c, struct sp_doc *d, char **tokens, size_t count, const char *label)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (strncmp(tokens[i], "-D", 2) == 0)
			sp_assign(c, d, tokens[i] + 2, label);
}

/* An option source that cannot be read: every property it might set is unknown. */
static void
sp_doc_all_unknown(struct sp_doc *d, const char *label)
{
	int p;

	for (p = 0; p < SP_COUNT; p++) {
		d->v[p] = NULL;
		d->plabel[p] = label;
	}
	d->unknown = SP_ALL_PROPS;
}

/* JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS or _JAVA_OPTIONS into the system properties layer. */
static void
sp_option_variable(struct sp_ctx *c, struct sp_doc *d, const char *name)
{
	char *tokens[SP_MAX_TOKENS];
	struct sp_env e;
	size_t count;

	sp_env_get(c, name, sp_env_count(c), 0, &e);
	if (!e.set)
		return;
	if (e.unknown) {
		sp_doc_all_unknown(d, sp_strdup(c, e.label));
		return;
	}
	count = sp_split_options(c, e.value, tokens, SP_MAX_TOKENS);
	sp_options(c, d, tokens, count, name);
}

static int
sp_basename_is(const char *path, const char *name)
{
	const char *slash = strrchr(path, '/');

	return strcmp(slash ? slash + 1 : path, name) == 0;
}

/* JVM options that take the next argument as their value. */
static int
sp_java_option_with_value(const char *a)
{
	static const char *const options[] = {"-cp", "-classpath", "--class-path", "-p",
		"--module-path", "--upgrade-module-path", "--add-modules", "--limit-modules",
		"--add-reads", "--add-exports", "--add-opens", "--patch-module", "--source",
		"--enable-native-access", NULL};
	size_t i;

	for (i = 0; options[i]; i++)
		if (strcmp(a, options[i]) == 0)
			return 1;
	return 0;
}

/*
 * argv of a process: a java command (JVM options, then -jar file or a main
 * class, then the application's arguments) or any other program, whose
 * --name=value arguments are taken for Spring's (a launcher script passes
 * them on). Application arguments go to args, -D options to sysprops.
 */
static void
sp_argv(struct sp_ctx *c, char **argv, size_t argc, struct sp_doc *args, struct sp_doc *sysprops,
    const char *label)
{
	size_t i = 0;

	if (argc > 0 && sp_basename_is(argv[0], "java")) {
		for (i = 1; i < argc; i++) {
			const char *a = argv[i];

			if (strcmp(a, "-jar") == 0 || strcmp(a, "-m") == 0 ||
			    strcmp(a, "--module") == 0) {
				i += 2;
				break;
			}
			if (strncmp(a, "--module=", 9) == 0 || a[0] != '-') {
				i++;
				break;
			}
			if (strncmp(a, "-D", 2) == 0)
				sp_assign(c, sysprops, a + 2, "java command line");
			else if (sp_java_option_with_value(a))
				i++;
		}
	}
	/* Spring's SimpleCommandLineArgsParser: --name=value; a bare "--" ends the options. */
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strncmp(argv[i], "--", 2) == 0)
			sp_assign(c, args, argv[i] + 2, label);
	}
}

/* A shell word that ends a simple command in an `sh -c` script. */
static int
sp_shell_separator(const char *t)
{
	return strcmp(t, ";") == 0 || strcmp(t, "&&") == 0 || strcmp(t, "||") == 0 ||
	    strcmp(t, "|") == 0 || strcmp(t, "&") == 0;
}

/*
 * The container's command and args, $(VAR) expanded. An `sh -c 'exec java
 * ...'` script is split into words and its java command read; a value there
 * that uses a shell variable is unknown.
 */
static void
sp_command_layers(struct sp_ctx *c, struct sp_doc *args, struct sp_doc *sysprops)
{
	const cJSON *command = sp_get(c->container, "command");
	const cJSON *cargs = sp_get(c->container, "args");
	const cJSON *item;
	char *argv[SP_MAX_TOKENS], *words[SP_MAX_TOKENS], why[SPRING_SOURCE_MAX];
	size_t argc = 0, count, i, start;
	int unknown = 0, limit = sp_env_count(c);
	const char *s;

	args->label = command ? "command" : "args";
	cJSON_ArrayForEach(item, command) {
		if (argc < SP_MAX_TOKENS && cJSON_IsString(item))
			argv[argc++] = (char *)item->valuestring;
	}
	cJSON_ArrayForEach(item, cargs) {
		if (argc < SP_MAX_TOKENS && cJSON_IsString(item))
			argv[argc++] = (char *)item->valuestring;
	}
	for (i = 0; i < argc; i++) {
		s = sp_expand(c, argv[i], limit, 0, &unknown, why, sizeof(why));
		if (unknown) {
			/* The name is still known when only the value hides behind a variable. */
			const char *eq = strchr(argv[i], '=');
			int p = eq ? sp_prop_of(argv[i] + (argv[i][0] == '-' ? 2 : 0),
			    (size_t)(eq - argv[i]) - (argv[i][0] == '-' ? 2 : 0)) : -1;
			struct sp_doc *d = strncmp(argv[i], "-D", 2) == 0 ? sysprops : args;

			if (p >= 0) {
				d->unknown |= 1u << p;
				d->v[p] = NULL;
				d->plabel[p] = sp_strdup(c, why);
			}
			unknown = 0;
			s = "";
		}
		argv[i] = (char *)s;
	}
	if (argc >= 3 && (sp_basename_is(argv[0], "sh") || sp_basename_is(argv[0], "bash") ||
	    sp_basename_is(argv[0], "ash") || sp_basename_is(argv[0], "dash")) &&
	    argv[1][0] == '-' && strchr(argv[1], 'c') != NULL) {
		count = sp_split_options(c, argv[2], words, SP_MAX_TOKENS);
		for (start = 0; start < count; start++) {
			if (!sp_basename_is(words[start], "java"))
				continue;
			for (i = start; i < count && !sp_shell_separator(words[i]); i++)
				if (strchr(words[i], '$') != NULL) {
					const char *eq = strchr(words[i], '=');
					int off = words[i][0] == '-' ? 2 : 0;
					int p = eq ? sp_prop_of(words[i] + off,
					    (size_t)(eq - words[i]) - (size_t)off) : -1;

					if (p >= 0) {
						struct sp_doc *d = off && words[i][1] == 'D' ?
						    sysprops : args;

						d->unknown |= 1u << p;
						d->v[p] = NULL;
						d->plabel[p] = "a shell variable in the command";
					}
					words[i] = "";
				}
			sp_argv(c, words + start, i - start, args, sysprops, "command");
			break;
		}
		return;
	}
	sp_argv(c, argv, argc, args, sysprops, args->label);
}

/* Volumes and mounts: what a path in the container holds. */

struct sp_found {
	enum sp_where where;
	const char *text;		/* SP_CONFIGMAP_KEY: the value */
	char label[SPRING_SOURCE_MAX];	/* "ConfigMap m key k (mounted at /d)" or what hides it */
};

static const cJSON *
sp_volume(const struct sp_ctx *c, const char *name)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, sp_get(c->pod_spec, "volumes")) {
		const char *n = sp_string(v, "name");

		if (n && strcmp(n, name) == 0)
			return v;
	}
	return NULL;
}

/* The key that file rel of a configMap (or projected configMap) source shows, or NULL. */
static const char *
sp_source_key(const cJSON *source, const char *rel)
{
	const cJSON *items = sp_get(source, "items"), *item;

	if (items != NULL && cJSON_GetArraySize(items) > 0) {
		cJSON_ArrayForEach(item, items) {
			const char *path = sp_string(item, "path");

			if (path && strcmp(path, rel) == 0)
				return sp_string(item, "key");
		}
		return NULL;
	}
	return strchr(rel, '/') == NULL ? rel : NULL;
}

/* Looks key up in ConfigMap name; fills f when it holds the file. */
static void
sp_configmap_file(struct sp_ctx *c, const char *map, const char *key, int optional,
    const char *mount, struct sp_found *f)
{
	int map_found = 0;
	const char *text;

	c->out->from_configmap = 1;
	if (c->maps == NULL || c->maps->value == NULL) {
		f->where = SP_UNREADABLE;
		snprintf(f->label, sizeof(f->label), "ConfigMap '%.40s', not readable here", map);
		return;
	}
	text = c->maps->value(c->maps->ctx, c->ns, map, key, &map_found);
	if (text != NULL) {
		f->where = SP_CONFIGMAP_KEY;
		f->text = text;
		snprintf(f->label, sizeof(f->label), "ConfigMap '%.30s' key %.40s (mounted at %.40s)",
		    map, key, mount);
	} else if (!map_found && !optional) {
		f->where = SP_UNREADABLE;
		snprintf(f->label, sizeof(f->label), "ConfigMap '%.40s' mounted at %.60s (missing)",
		    map, mount);
	}
}

/* What the file at absolute path is, from the container's volumeMounts. */
static void
sp_lookup_path(struct sp_ctx *c, const char *path, struct sp_found *f)
{
	const cJSON *m, *best = NULL, *volume, *source;
	const char *mp, *rel, *sub, *name, *key;
	char full[SP_PATH_MAX];
	size_t len, best_len = 0;

	memset(f, 0, sizeof(*f));
	cJSON_ArrayForEach(m, sp_get(c->container, "volumeMounts")) {
		if ((mp = sp_string(m, "mountPath")) == NULL)
			continue;
		len = strlen(mp);
		while (len > 1 && mp[len - 1] == '/')
			len--;
		if (strncmp(path, mp, len) != 0 || (path[len] != '/' && path[len] != '\0' &&
		    !(len == 1 && mp[0] == '/')))
			continue;
		if (best == NULL || len > best_len) {
			best = m;
			best_len = len;
		}
	}
	if (best == NULL)
		return;
	mp = sp_string(best, "mountPath");
	rel = path + best_len;
	while (*rel == '/')
		rel++;
	if (sp_get(best, "subPathExpr") != NULL) {
		f->where = SP_UNREADABLE;
		snprintf(f->label, sizeof(f->label), "a subPathExpr mount at %.80s", mp);
		return;
	}
	sub = sp_string(best, "subPath");
	snprintf(full, sizeof(full), "%s%s%s", sub ? sub : "", sub && *sub && *rel ? "/" : "", rel);
	name = sp_string(best, "name");
	volume = sp_volume(c, name ? name : "");
	if (full[0] == '\0' || volume == NULL)
		return;
	if ((source = sp_get(volume, "configMap")) != NULL) {
		if ((key = sp_source_key(source, full)) != NULL)
			sp_configmap_file(c, sp_string(source, "name") ? sp_string(source, "name") :
			    "", key, cJSON_IsTrue(sp_get(source, "optional")), mp, f);
		return;
	}
	if ((source = sp_get(volume, "projected")) != NULL) {
		const cJSON *s, *cm, *secret;

		cJSON_ArrayForEach(s, sp_get(source, "sources")) {
			if ((cm = sp_get(s, "configMap")) != NULL &&
			    (key = sp_source_key(cm, full)) != NULL) {
				sp_configmap_file(c, sp_str(cm, "name"), key,
				    cJSON_IsTrue(sp_get(cm, "optional")), mp, f);
				if (f->where == SP_CONFIGMAP_KEY)
					return;
			} else if ((secret = sp_get(s, "secret")) != NULL &&
			    sp_source_key(secret, full) != NULL && f->where == SP_IMAGE) {
				f->where = SP_UNREADABLE;
				snprintf(f->label, sizeof(f->label),
				    "Secret '%.40s' mounted at %.60s", sp_str(secret, "name"), mp);
			}
		}
		return;
	}
	f->where = SP_UNREADABLE;
	if ((source = sp_get(volume, "secret")) != NULL)
		snprintf(f->label, sizeof(f->label), "Secret '%.40s' mounted at %.60s",
		    sp_string(source, "secretName") ? sp_string(source, "secretName") : "", mp);
	else
		snprintf(f->label, sizeof(f->label), "volume %.40s mounted at %.60s",
		    name ? name : "", mp);
}

/* Config data: locations, profiles and files, in Spring Boot's order. */

/* An absolute, normalised path: relative ones are under the working directory. */
static void
sp_abs_path(const struct sp_ctx *c, const char *path, char *out, size_t size)
{
	char tmp[SP_PATH_MAX];
	size_t i, n = 0;

	if (path[0] == '/')
		snprintf(tmp, sizeof(tmp), "%s", path);
	else
		snprintf(tmp, sizeof(tmp), "%s/%s", c->workdir, path);
	/* Drop "./" segments and doubled slashes. */
	for (i = 0; tmp[i] && n + 1 < size; i++) {
		if (tmp[i] == '/' && n > 0 && out[n - 1] == '/')
			continue;
		if (tmp[i] == '.' && (i == 0 || tmp[i - 1] == '/') && (tmp[i + 1] == '/' ||
		    tmp[i + 1] == '\0') && n > 0) {
			if (tmp[i + 1] == '/')
				i++;
			continue;
		}
		out[n++] = tmp[i];
	}
	out[n] = '\0';
}

/* One location string ("optional:file:./config/") into loc; 0 when poolguard can see it. */
static int
sp_parse_location(const struct sp_ctx *c, const char *s, size_t len, struct sp_location *loc)
{
	char buf[SP_PATH_MAX], *hint;

	memset(loc, 0, sizeof(*loc));
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	s = buf;
	if (strncmp(s, "optional:", 9) == 0) {
		loc->optional = 1;
		s += 9;
	}
	loc->kind = SP_LOC_FILE;
	if (strncmp(s, "configtree:", 11) == 0) {
		loc->kind = SP_LOC_TREE;
		s += 11;
	} else if (strncmp(s, "file:", 5) == 0)
		s += 5;
	else if (strncmp(s, "classpath", 9) == 0 || strstr(s, "://") != NULL)
		return -1;	/* in the jar, or fetched by an extension */
	else if (strchr(s, ':') != NULL)
		return -1;	/* another resolver's location (vault:, aws-secretsmanager:) */
	if ((hint = strstr(buf, "[.")) != NULL && sp_ends_with(buf, "]")) {
		snprintf(loc->ext, sizeof(loc->ext), "%.*s", (int)(strlen(hint) - 2), hint + 1);
		*hint = '\0';
	}
	sp_abs_path(c, s, loc->path, sizeof(loc->path));
	if (sp_ends_with(s, "/") || loc->kind == SP_LOC_TREE) {
		if (loc->kind != SP_LOC_TREE)
			loc->kind = SP_LOC_DIR;
		len = strlen(loc->path);
		if (!sp_ends_with(loc->path, "/") && len + 1 < sizeof(loc->path)) {
			loc->path[len] = '/';
			loc->path[len + 1] = '\0';
		}
		if (sp_ends_with(loc->path, "/*/")) {
			loc->wildcard = 1;
			loc->path[strlen(loc->path) - 2] = '\0';
		}
	}
	return 0;
}

/* The value of an environment-level property, first layer that sets it; NULL when none. */
static const char *
sp_layer_value(const struct sp_ctx *c, int prop, int *unknown, const char **label)
{
	size_t i;

	*unknown = 0;
	for (i = 0; i < c->nlayers; i++) {
		const struct sp_doc *d = c->layers[i];

		if (d->unknown & (1u << prop)) {
			*unknown = 1;
			*label = d->plabel[prop] ? d->plabel[prop] : d->label;
			return NULL;
		}
		if (d->v[prop]) {
			*label = d->plabel[prop] ? d->plabel[prop] : d->label;
			return d->v[prop];
		}
	}
	return NULL;
}

static void
sp_push_doc(struct sp_ctx *c, struct sp_doc *d)
{
	struct sp_doc **grown;

	if (c->ndocs >= SP_MAX_DOCS)
		return;
	if (c->ndocs == c->adocs) {
		size_t alloc = c->adocs ? c->adocs * 2 : 32;

		if ((grown = realloc(c->docs, alloc * sizeof(*grown))) == NULL) {
			c->result = pg_error_set(c->err, PG_ERR_NOMEM, "out of memory");
			return;
		}
		c->docs = grown;
		c->adocs = alloc;
	}
	c->docs[c->ndocs++] = d;
}

/* A document that hides every property: a source that may set any of them is unreadable. */
static void
sp_push_unknown(struct sp_ctx *c, const char *label)
{
	struct sp_doc *d = sp_alloc(c, sizeof(*d));

	if (d == NULL)
		return;
	d->label = sp_strdup(c, label);
	sp_doc_all_unknown(d, d->label);
	sp_push_doc(c, d);
}

/* Profile expressions: names, !, & and | with parentheses (Spring's Profiles.of). */

static int sp_profile_expr(const struct sp_ctx *c, const char **s, int depth);

static void
sp_skip_space(const char **s)
{
	while (isspace((unsigned char)**s))
		(*s)++;
}

static int
sp_profile_term(const struct sp_ctx *c, const char **s, int depth)
{
	const char *start;
	size_t len, i;
	int v;

	sp_skip_space(s);
	if (depth > 16)
		return 0;
	if (**s == '!') {
		(*s)++;
		return !sp_profile_term(c, s, depth + 1);
	}
	if (**s == '(') {
		(*s)++;
		v = sp_profile_expr(c, s, depth + 1);
		sp_skip_space(s);
		if (**s == ')')
			(*s)++;
		return v;
	}
	start = *s;
	while (**s && !isspace((unsigned char)**s) && strchr("!&|(),", **s) == NULL)
		(*s)++;
	len = (size_t)(*s - start);
	for (i = 0; i < c->nprofiles; i++)
		if (strlen(c->profiles[i]) == len && strncmp(c->profiles[i], start, len) == 0)
			return 1;
	return 0;
}

static int
sp_profile_expr(const struct sp_ctx *c, const char **s, int depth)
{
	int v = sp_profile_term(c, s, depth);
	char op;

	for (;;) {
		sp_skip_space(s);
		if (**s != '&' && **s != '|')
			return v;
		op = **s;
		(*s)++;
		if (op == '&')
			v = sp_profile_term(c, s, depth) && v;
		else
			v = sp_profile_term(c, s, depth) || v;
	}
}

/* spring.config.activate.on-profile: a comma-separated list, any one matching. */
static int
sp_profiles_match(const struct sp_ctx *c, const char *list)
{
	const char *s = list;

	while (*s) {
		if (sp_profile_expr(c, &s, 0))
			return 1;
		while (*s && *s != ',')
			s++;
		if (*s == ',')
			s++;
	}
	return 0;
}

/* Whether a document applies, given its activation conditions. */
static int
sp_doc_active(const struct sp_ctx *c, const struct sp_doc *d)
{
	if (d->v[SP_ONCLOUD] && strcasecmp(d->v[SP_ONCLOUD], "kubernetes") != 0)
		return 0;
	if (d->v[SP_ONPROFILE])
		return c->with_profiles && sp_profiles_match(c, d->v[SP_ONPROFILE]);
	return 1;
}

static void sp_add_location(struct sp_ctx *c, const struct sp_location *loc, const char *profile,
    int depth);

/* Imports of a file's documents: locations whose files override it. */
static void
sp_add_imports(struct sp_ctx *c, const char *list, int depth)
{
	struct sp_location loc;
	const char *s = list, *end;
	size_t i, n = 0;

	while (*s && n++ < SP_MAX_LOCATIONS) {
		end = s + strcspn(s, ",");
		if (sp_parse_location(c, s, (size_t)(end - s), &loc) == 0) {
			sp_add_location(c, &loc, NULL, depth + 1);
			for (i = 0; c->with_profiles && i < c->nprofiles; i++)
				sp_add_location(c, &loc, c->profiles[i], depth + 1);
		}
		s = *end ? end + 1 : end;
	}
}

/*
 * Loads the file at path when the container shows it: its active documents
 * go to the config data, then the files they import. A file named explicitly
 * (spring.config.location, import) that is not in a volume is in the image,
 * and unknown.
 */
static void
sp_add_file(struct sp_ctx *c, const char *path, int explicit, int depth)
{
	struct sp_found f;
	struct sp_file file;
	enum sp_format format = sp_format_of(path);
	size_t i;

	if (format == SP_FMT_NONE || c->files >= SP_MAX_FILES || c->result)
		return;
	sp_lookup_path(c, path, &f);
	if (f.where == SP_IMAGE) {
		if (explicit) {
			char label[SPRING_SOURCE_MAX];

			snprintf(label, sizeof(label), "file %.100s in the image", path);
			sp_push_unknown(c, label);
		}
		return;
	}
	c->files++;
	if (f.where == SP_UNREADABLE) {
		sp_push_unknown(c, f.label);
		return;
	}
	sp_parse(c, f.text, format, &file);
	if (c->result)
		return;
	if (file.invalid) {
		c->result = pg_error_set(c->err, PG_ERR_INVALID, "container '%s' %s: %s",
		    c->cname, f.label, file.invalid);
		return;
	}
	if (file.unknown) {
		sp_push_unknown(c, f.label);
		return;
	}
	for (i = 0; i < file.count; i++) {
		if (!sp_doc_active(c, &file.docs[i]))
			continue;
		file.docs[i].label = sp_strdup(c, f.label);
		sp_push_doc(c, &file.docs[i]);
	}
	if (depth >= SP_MAX_DEPTH)
		return;
	for (i = 0; i < file.count; i++)
		if (file.docs[i].v[SP_IMPORT] && sp_doc_active(c, &file.docs[i]))
			sp_add_imports(c, file.docs[i].v[SP_IMPORT], depth);
}

/* A configtree: directory: a file named like the property holds its value. */
static void
sp_add_tree(struct sp_ctx *c, const struct sp_location *loc)
{
	char path[SP_PATH_MAX * 2];
	struct sp_found f;
	struct sp_doc *d;

	snprintf(path, sizeof(path), "%s%s", loc->path, sp_prop_names[SP_POOL]);
	sp_lookup_path(c, path, &f);
	if (f.where == SP_IMAGE)
		return;
	if (f.where == SP_UNREADABLE) {
		sp_push_unknown(c, f.label);
		return;
	}
	if ((d = sp_alloc(c, sizeof(*d))) == NULL)
		return;
	d->label = sp_strdup(c, f.label);
	sp_doc_set(c, d, SP_POOL, f.text, strlen(f.text));
	sp_push_doc(c, d);
}

static int
sp_compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The directories a "config/<each>/" location stands for: the ones the container's
 * mounts make under it, in name order (Spring sorts them by absolute path).
 */
static size_t
sp_wildcard_dirs(struct sp_ctx *c, const char *dir, char **out, size_t max)
{
	const cJSON *m;
	const char *mp, *seg;
	size_t n = 0, len = strlen(dir), i, seglen;
	int dup;

	cJSON_ArrayForEach(m, sp_get(c->container, "volumeMounts")) {
		if ((mp = sp_string(m, "mountPath")) == NULL || strncmp(mp, dir, len) != 0)
			continue;
		seg = mp + len;
		if ((seglen = strcspn(seg, "/")) == 0 || n >= max)
			continue;
		for (dup = 0, i = 0; i < n; i++)
			dup |= strlen(out[i]) == len + seglen + 1 &&
			    strncmp(out[i] + len, seg, seglen) == 0;
		if (!dup && (out[n] = sp_printf(c, "%s%.*s/", dir, (int)seglen, seg)) != NULL)
			n++;
	}
	qsort(out, n, sizeof(*out), sp_compare_strings);
	return n;
}

/* The files of one location for one profile (NULL: the non-profile files). */
static void
sp_add_location(struct sp_ctx *c, const struct sp_location *loc, const char *profile, int depth)
{
	static const char *const exts[] = {".yaml", ".yml", ".properties"};	/* lowest first */
	char path[SP_PATH_MAX * 2], *dirs[16];
	size_t i, k, d, ndirs;
	const char *dot;

	if (depth > SP_MAX_DEPTH || c->result)
		return;
	if (loc->kind == SP_LOC_TREE) {
		if (profile == NULL)
			sp_add_tree(c, loc);
		return;
	}
	if (loc->kind == SP_LOC_FILE) {
		if (profile == NULL) {
			snprintf(path, sizeof(path), "%s%s", loc->path, loc->ext);
			sp_add_file(c, path, !loc->optional, depth);
			return;
		}
		dot = loc->ext[0] ? loc->path + strlen(loc->path) : strrchr(loc->path, '.');
		if (dot == NULL || strchr(dot, '/') != NULL)
			return;
		snprintf(path, sizeof(path), "%.*s-%s%s", (int)(dot - loc->path), loc->path,
		    profile, loc->ext[0] ? loc->ext : dot);
		sp_add_file(c, path, 0, depth);
		return;
	}
	if (loc->wildcard)
		ndirs = sp_wildcard_dirs(c, loc->path, dirs, 16);
	else {
		dirs[0] = (char *)loc->path;
		ndirs = 1;
	}
	for (d = 0; d < ndirs; d++)
		for (i = 0; i < c->nnames; i++)
			for (k = 0; k < 3; k++) {
				if (loc->ext[0] && strcmp(loc->ext, exts[k]) != 0)
					continue;
				snprintf(path, sizeof(path), "%s%s%s%s%s", dirs[d], c->names[i],
				    profile ? "-" : "", profile ? profile : "", exts[k]);
				sp_add_file(c, path, 0, depth);
			}
}

/* Location groups from a list: "," separates groups, ";" locations of one group. */
static size_t
sp_location_groups(struct sp_ctx *c, const char *list, struct sp_location *locs, int *group,
    size_t n, size_t max, int *next_group)
{
	const char *s = list, *end;

	while (*s && n < max) {
		end = s + strcspn(s, ",;");
		if (sp_parse_location(c, s, (size_t)(end - s), &locs[n]) == 0)
			group[n++] = *next_group;
		if (*end != ';')
			(*next_group)++;
		s = *end ? end + 1 : end;
	}
	(*next_group)++;
	return n;
}

/*
 * Builds the config data documents, lowest first: for each location group,
 * its non-profile files, then (with profiles) its profile files, one profile
 * after another. spring.config.location replaces the default group;
 * additional-location and import (from the environment-level sources) come
 * after, higher.
 */
/* 1 when the container mounts volumes: only then can a default location hold a file poolguard reads. */
static int
sp_has_mounts(const struct sp_ctx *c)
{
	const cJSON *mounts = cJSON_GetObjectItemCaseSensitive(c->container, "volumeMounts");

	return cJSON_IsArray(mounts) && cJSON_GetArraySize(mounts) > 0;
}

static void
sp_collect(struct sp_ctx *c, int with_profiles)
{
	static const int props[] = {SP_LOCATION, SP_ADDLOC, SP_IMPORT};
	struct sp_location locs[SP_MAX_LOCATIONS];
	int group[SP_MAX_LOCATIONS], next = 0, unknown;
	const char *v, *label, *hidden = NULL;
	size_t n = 0, i, j, k;

	c->ndocs = 0;
	c->files = 0;
	c->with_profiles = with_profiles;
	for (k = 0; k < 3; k++) {
		if ((v = sp_layer_value(c, props[k], &unknown, &label)) != NULL)
			n = sp_location_groups(c, v, locs, group, n, SP_MAX_LOCATIONS, &next);
		else if (props[k] == SP_LOCATION && !unknown && sp_has_mounts(c))
			/* Without mounts these optional places are the image's: nothing to read. */
			n = sp_location_groups(c, "optional:file:./;optional:file:./config/;"
			    "optional:file:./config/*/", locs, group, n, SP_MAX_LOCATIONS, &next);
		/* What a hidden location holds overrides the locations before it. */
		if (unknown)
			hidden = label;
	}
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && group[j] == group[i]; j++)
			sp_add_location(c, &locs[j], NULL, 0);
		for (k = 0; with_profiles && k < c->nprofiles; k++)
			for (j = i; j < n && group[j] == group[i]; j++)
				sp_add_location(c, &locs[j], c->profiles[k], 0);
	}
	if (hidden)
		sp_push_unknown(c, hidden);
}

/* Splits a comma-separated list into the names array; returns the count. */
static size_t
sp_split_names(const char *list, char (*names)[64], size_t max)
{
	const char *s = list, *end;
	size_t n = 0, len;

	while (*s && n < max) {
		while (isspace((unsigned char)*s))
			s++;
		end = s + strcspn(s, ",");
		len = (size_t)(end - s);
		while (len > 0 && isspace((unsigned char)s[len - 1]))
			len--;
		if (len > 0 && len < 64) {
			memcpy(names[n], s, len);
			names[n++][len] = '\0';
		}
		s = *end ? end + 1 : end;
	}
	return n;
}

/*
 * The active profiles: spring.profiles.active from the environment-level
 * sources, else from the highest non-profile document; when none, those of
 * spring.profiles.default, else "default". Returns 1 when they are unknown
 * (and pushes an unknown document for them).
 */
static void
sp_profiles(struct sp_ctx *c)
{
	const char *v, *label = NULL;
	int unknown, prop, k;
	size_t i;

	c->nprofiles = 0;
	for (k = 0, prop = SP_ACTIVE; k < 2; k++, prop = SP_DEFAULT) {
		v = sp_layer_value(c, prop, &unknown, &label);
		for (i = c->ndocs; v == NULL && !unknown && i > 0; i--) {
			if (c->docs[i - 1]->unknown & (1u << prop)) {
				unknown = 1;
				label = c->docs[i - 1]->label;
			} else
				v = c->docs[i - 1]->v[prop];
		}
		if (unknown) {
			c->nprofiles = 0;
			c->with_profiles = 1;
			sp_push_unknown(c, sp_printf(c, "profiles from %.100s", label));
			return;
		}
		if (v != NULL && (c->nprofiles = sp_split_names(v, c->profiles,
		    SP_MAX_PROFILES)) > 0)
			return;
	}
	snprintf(c->profiles[0], sizeof(c->profiles[0]), "default");
	c->nprofiles = 1;
}

/* Placeholders ${NAME:default} in a value, resolved from the environment. */
static const char *
sp_placeholders(struct sp_ctx *c, const char *s, int depth, int *unknown, char *why,
    size_t why_size)
{
	char name[SP_KEY_MAX], env_name[SP_KEY_MAX], *out;
	const char *p, *start, *colon = NULL, *value = NULL;
	size_t n = 0, i, cap = strlen(s) + 1;
	int nest = 0;
	struct sp_env e;

	if (strstr(s, "${") == NULL)
		return s;
	if (depth > SP_MAX_PLACEHOLDER_DEPTH) {
		*unknown = 1;
		snprintf(why, why_size, "placeholders nested too deep");
		return s;
	}
	if ((out = sp_alloc(c, cap)) == NULL)
		return s;
	for (p = s; *p;) {
		if (p[0] != '$' || p[1] != '{') {
			if (n + 1 < cap)
				out[n++] = *p;
			p++;
			continue;
		}
		start = p + 2;
		colon = NULL;
		for (p = start, nest = 0; *p && (*p != '}' || nest > 0); p++) {
			if (p[0] == '$' && p[1] == '{')
				nest++;
			else if (*p == '}')
				nest--;
			else if (*p == ':' && nest == 0 && colon == NULL)
				colon = p;
		}
		if (*p != '}' || (size_t)((colon ? colon : p) - start) >= sizeof(name)) {
			*unknown = 1;
			snprintf(why, why_size, "an unterminated placeholder");
			return s;
		}
		memcpy(name, start, (size_t)((colon ? colon : p) - start));
		name[(colon ? colon : p) - start] = '\0';
		p++;
		/* SystemEnvironmentPropertySource: the name, '_' for '.' and '-', upper case. */
		memset(&e, 0, sizeof(e));
		sp_env_get(c, name, sp_env_count(c), 0, &e);
		if (!e.set) {
			for (i = 0; name[i]; i++)
				env_name[i] = name[i] == '.' || name[i] == '-' ? '_' :
				    (char)toupper((unsigned char)name[i]);
			env_name[i] = '\0';
			sp_env_get(c, env_name, sp_env_count(c), 0, &e);
		}
		if (e.set && e.unknown) {
			*unknown = 1;
			snprintf(why, why_size, "%s", e.label);
			return s;
		}
		if (e.set)
			value = e.value;
		else if (colon) {
			char *def = sp_strndup(c, colon + 1, (size_t)(p - 1 - colon - 1));

			if (def == NULL)
				return s;
			value = sp_placeholders(c, def, depth + 1, unknown, why, why_size);
			if (*unknown)
				return s;
		} else {
			*unknown = 1;
			snprintf(why, why_size, "placeholder ${%.60s}, not set in the pod spec",
			    name);
			return s;
		}
		if (n + strlen(value) + strlen(p) + 1 > cap) {
			char *grown;

			cap = n + strlen(value) + strlen(p) + 1;
			if (cap > SPRING_MAX_TEXT || (grown = sp_alloc(c, cap)) == NULL)
				return s;
			memcpy(grown, out, n);
			out = grown;
		}
		memcpy(out + n, value, strlen(value));
		n += strlen(value);
	}
	out[n] = '\0';
	return out;
}

/* Spring converts the string to an int: white space trimmed, then digits only here. */
static int
sp_pool_value(const char *s, long *out)
{
	long v = 0;
	size_t i, n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > SPRING_MAX_POOL_SIZE)
			return -1;
	}
	if (v <= 0)
		return -1;
	*out = v;
	return 0;
}

/* The budget's poolSizeVariables that relaxed binding does not map to the property. */
static void
sp_pool_variables(struct sp_ctx *c, struct sp_doc *d)
{
	struct sp_env e;
	size_t i;

	d->label = "env";
	for (i = 0; i < c->pool_var_count; i++) {
		if (c->pool_vars[i] == NULL || sp_env_binds(c->pool_vars[i], SP_POOL))
			continue;
		sp_env_get(c, c->pool_vars[i], sp_env_count(c), 0, &e);
		if (!e.set)
			continue;
		d->plabel[SP_POOL] = sp_strdup(c, e.label);
		if (e.unknown)
			d->unknown |= 1u << SP_POOL;
		else
			sp_doc_set(c, d, SP_POOL, e.value, strlen(e.value));
		return;
	}
}

/* SPRING_APPLICATION_JSON, or spring.application.json, from the first source that has it. */
static void
sp_json_layer(struct sp_ctx *c, struct sp_doc *args, struct sp_doc *sysprops, struct sp_doc *d)
{
	struct sp_file file;
	struct sp_env e;
	const char *text = NULL, *label = NULL;

	d->label = "SPRING_APPLICATION_JSON";
	if (args->v[SP_APPJSON]) {
		text = args->v[SP_APPJSON];
		label = "spring.application.json in args";
	} else if (sysprops->v[SP_APPJSON]) {
		text = sysprops->v[SP_APPJSON];
		label = "spring.application.json system property";
	} else {
		sp_env_get(c, "SPRING_APPLICATION_JSON", sp_env_count(c), 0, &e);
		if (!e.set)
			sp_env_get(c, "spring.application.json", sp_env_count(c), 0, &e);
		if (!e.set)
			return;
		if (e.unknown) {
			sp_doc_all_unknown(d, sp_strdup(c, e.label));
			return;
		}
		text = e.value;
		label = strncmp(e.label, "env SPRING_APPLICATION_JSON", 27) == 0 ?
		    "SPRING_APPLICATION_JSON" : sp_strdup(c, e.label);
	}
	d->label = label;
	sp_parse(c, text, SP_FMT_JSON, &file);
	if (c->result)
		return;
	if (file.invalid) {
		c->result = pg_error_set(c->err, PG_ERR_INVALID, "container '%s' %s: %s", c->cname,
		    label, file.invalid);
		return;
	}
	if (file.unknown) {
		sp_doc_all_unknown(d, label);
		return;
	}
	if (file.count > 0) {
		memcpy(d->v, file.docs[0].v, sizeof(d->v));
		d->unknown = 0;
	}
}

/* The environment-level sources, highest first. */
static void
sp_layers(struct sp_ctx *c)
{
	struct sp_doc *args, *json, *sysprops, *env, *cmdline;
	int p;

	args = sp_alloc(c, sizeof(*args));
	json = sp_alloc(c, sizeof(*json));
	sysprops = sp_alloc(c, sizeof(*sysprops));
	cmdline = sp_alloc(c, sizeof(*cmdline));
	env = sp_alloc(c, sizeof(*env));
	if (c->result)
		return;
	sysprops->label = "system properties";
	/* The JVM's order, later overriding: JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS, command line. */
	sp_option_variable(c, sysprops, "JAVA_TOOL_OPTIONS");
	sp_option_variable(c, sysprops, "JDK_JAVA_OPTIONS");
	sp_command_layers(c, args, cmdline);
	for (p = 0; p < SP_COUNT; p++)
		if (cmdline->v[p] || (cmdline->unknown & (1u << p))) {
			sysprops->v[p] = cmdline->v[p];
			sysprops->plabel[p] = cmdline->plabel[p];
			sysprops->unknown = (sysprops->unknown & ~(1u << p)) |
			    (cmdline->unknown & (1u << p));
		}
	sp_option_variable(c, sysprops, "_JAVA_OPTIONS");
	sp_json_layer(c, args, sysprops, json);
	sp_env_layer(c, env);
	c->layers[0] = args;
	c->layers[1] = json;
	c->layers[2] = sysprops;
	c->layers[3] = env;
	c->nlayers = 4;
}

/* The deciding document for the pool size: layers, then config data from the top. */
static const struct sp_doc *
sp_decide(const struct sp_ctx *c, const struct sp_doc *fallback)
{
	const unsigned bit = 1u << SP_POOL;
	size_t i;

	for (i = 0; i < c->nlayers; i++)
		if (c->layers[i]->v[SP_POOL] || (c->layers[i]->unknown & bit))
			return c->layers[i];
	for (i = c->ndocs; i > 0; i--)
		if (c->docs[i - 1]->v[SP_POOL] || (c->docs[i - 1]->unknown & bit))
			return c->docs[i - 1];
	if (fallback->v[SP_POOL] || (fallback->unknown & bit))
		return fallback;
	return NULL;
}

int
spring_container_pool(const cJSON *container, const cJSON *pod_spec, const char *namespace,
    const char *const *pool_variables, size_t pool_variable_count,
    const struct spring_configmaps *maps, struct spring_pool *out, struct pg_error *err)
{
	struct sp_ctx c;
	struct sp_doc vars;
	const struct sp_doc *d;
	const char *wd, *label, *value, *name;
	char why[SPRING_SOURCE_MAX] = "";
	int unknown = 0, name_unknown = 0;
	size_t n;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	memset(&vars, 0, sizeof(vars));
	c.container = container;
	c.pod_spec = pod_spec;
	c.ns = namespace ? namespace : "";
	c.cname = sp_string(container, "name") ? sp_string(container, "name") : "?";
	c.pool_vars = pool_variables;
	c.pool_var_count = pool_variable_count;
	c.maps = maps;
	c.out = out;
	c.err = err;
	if (!cJSON_IsObject(container))
		return pg_error_set(err, PG_ERR_INVALID, "a container must be an object");
	if (sp_get(container, "env") && !cJSON_IsNull(sp_get(container, "env")) &&
	    !cJSON_IsArray(sp_get(container, "env")))
		return pg_error_set(err, PG_ERR_INVALID, "container '%s': env must be a list",
		    c.cname);
	/* XXX: without workingDir the image's WORKDIR decides; Docker's default "/" is assumed. */
	wd = sp_string(container, "workingDir");
	snprintf(c.workdir, sizeof(c.workdir), "%s", wd && wd[0] == '/' ? wd : "/");
	n = strlen(c.workdir);
	while (n > 1 && c.workdir[n - 1] == '/')
		c.workdir[--n] = '\0';
	sp_layers(&c);
	if (c.result)
		goto out;
	c.nnames = 0;
	if ((value = sp_layer_value(&c, SP_NAME, &name_unknown, &label)) != NULL)
		c.nnames = sp_split_names(value, c.names, SP_MAX_NAMES);
	if (c.nnames == 0) {
		snprintf(c.names[0], sizeof(c.names[0]), "application");
		c.nnames = 1;
	}
	/* First without profiles, to learn them; then with them. */
	sp_collect(&c, 0);
	if (c.result)
		goto out;
	sp_profiles(&c);
	if (c.result)
		goto out;
	if (!(c.nprofiles == 0 && c.with_profiles)) {
		sp_collect(&c, 1);
		if (c.result)
			goto out;
	}
	if (name_unknown)
		sp_push_unknown(&c, sp_printf(&c, "spring.config.name from %.90s", label));
	vars.label = "env";
	sp_pool_variables(&c, &vars);
	if (c.result || (d = sp_decide(&c, &vars)) == NULL)
		goto out;
	name = d->plabel[SP_POOL] ? d->plabel[SP_POOL] : d->label;
	snprintf(out->source, sizeof(out->source), "%s", name ? name : "?");
	out->found = 1;
	out->from_env = d->label != NULL && strcmp(d->label, "env") == 0;
	if (d->unknown & (1u << SP_POOL)) {
		out->unknown = 1;
		goto out;
	}
	value = sp_placeholders(&c, d->v[SP_POOL], 0, &unknown, why, sizeof(why));
	if (c.result)
		goto out;
	if (unknown) {
		out->unknown = 1;
		snprintf(out->source, sizeof(out->source), "%.60s: %.60s", name ? name : "?", why);
		goto out;
	}
	if (sp_pool_value(value, &out->pool)) {
		c.result = pg_error_set(err, PG_ERR_INVALID, "container '%s' %s: "
		    "spring.datasource.hikari.maximum-pool-size '%.40s' is not an integer "
		    "from 1 to %ld", c.cname, out->source, value, SPRING_MAX_POOL_SIZE);
		out->found = 0;
		out->pool = 0;
	}
out:
	sp_release(&c);
	return c.result;
}

/* Digests. */

static const int sp_digest_props[] = {SP_ONPROFILE, SP_ONCLOUD, SP_POOL, SP_ACTIVE, SP_DEFAULT,
	SP_IMPORT};

/* Writes value escaped for a .properties value (or key: also separators). */
static size_t
sp_escape(const char *s, int key, char *out, size_t size)
{
	size_t n = 0;

	for (; *s && n + 7 < size; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\\' || (key && (ch == '=' || ch == ':' || ch == ' ' || ch == '#' ||
		    ch == '!')) || (!key && n == 0 && (ch == ' ' || ch == '\t'))) {
			out[n++] = '\\';
			out[n++] = (char)ch;
		} else if (ch == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else if (ch == '\r') {
			out[n++] = '\\';
			out[n++] = 'r';
		} else if (ch == '\t') {
			out[n++] = '\\';
			out[n++] = 't';
		} else if (ch == '\f') {
			out[n++] = '\\';
			out[n++] = 'f';
		} else
			out[n++] = (char)ch;
	}
	out[n] = '\0';
	return n;
}

/* Appends s to out; 0, or -1 when it does not fit. */
static int
sp_append(char *out, size_t size, size_t *n, const char *s)
{
	size_t len = strlen(s);

	if (*n + len + 1 > size)
		return -1;
	memcpy(out + *n, s, len + 1);
	*n += len;
	return 0;
}

static int
sp_digest_fits(const struct sp_file *file, char *out, size_t size)
{
	char line[SP_PATH_MAX * 4], value[SP_PATH_MAX * 3];
	size_t n = 0, i, k, docs = 0;
	int any;

	if (sp_append(out, size, &n, SPRING_DIGEST_MARK))
		return -1;
	if (file->invalid) {
		snprintf(line, sizeof(line), "#!invalid %.300s\n", file->invalid);
		return sp_append(out, size, &n, line);
	}
	if (file->unknown)
		return sp_append(out, size, &n, "#!unknown\n");
	for (i = 0; i < file->count; i++) {
		const struct sp_doc *d = &file->docs[i];

		for (any = 0, k = 2; k < sizeof(sp_digest_props) / sizeof(*sp_digest_props); k++)
			any |= d->v[sp_digest_props[k]] != NULL;
		if (!any)
			continue;
		if (docs++ > 0 && sp_append(out, size, &n, "#---\n"))
			return -1;
		for (k = 0; k < sizeof(sp_digest_props) / sizeof(*sp_digest_props); k++) {
			int p = sp_digest_props[k];

			if (d->v[p] == NULL)
				continue;
			if (strlen(d->v[p]) > SP_PATH_MAX)
				return -1;
			sp_escape(d->v[p], 0, value, sizeof(value));
			snprintf(line, sizeof(line), "%s=%s\n", sp_prop_names[p], value);
			if (sp_append(out, size, &n, line))
				return -1;
		}
	}
	return 0;
}

int
spring_digest(const char *key, const char *text, char *out, size_t size, struct pg_error *err)
{
	struct sp_ctx c;
	struct spring_pool unused;
	struct sp_file file;
	enum sp_format format = sp_format_of(key ? key : "");
	const char *p = text;

	if (size < SPRING_DIGEST_MIN)
		return pg_error_set(err, PG_ERR_TOOBIG, "a digest needs %d bytes, not %zu",
		    SPRING_DIGEST_MIN, size);
	out[0] = '\0';
	while (isspace((unsigned char)*p))
		p++;
	if (format == SP_FMT_NONE && *p == '{')
		format = SP_FMT_JSON;
	if (format == SP_FMT_NONE)
		return PG_OK;
	if (strncmp(text, SPRING_DIGEST_MARK, strlen(SPRING_DIGEST_MARK)) == 0) {
		snprintf(out, size, "%s", text);	/* already one */
		if (strlen(text) < size)
			return PG_OK;
	}
	memset(&c, 0, sizeof(c));
	memset(&unused, 0, sizeof(unused));
	c.out = &unused;
	c.err = err;
	sp_parse(&c, text, format, &file);
	if (c.result == PG_OK && sp_digest_fits(&file, out, size))
		snprintf(out, size, "%s#!unknown longer than the digest limit\n",
		    SPRING_DIGEST_MARK);
	sp_release(&c);
	return c.result;
}
