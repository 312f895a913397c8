/*
 * manifest_test.c - YAML and JSON manifests to cJSON objects: documents,
 * lists, scalar types, directories, errors, caps, and real manifests from
 * public repositories (tests/fixtures/public, see SOURCES.md there).
 */
#include "unit/testutil_files.h"

#include <math.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "poolguard/error.h"
#include "poolguard/manifest.h"

#define BALANCE_READER \
	"GoogleCloudPlatform-bank-of-anthos__kubernetes-manifests__balance-reader.yaml"
#define LEDGER_DB "GoogleCloudPlatform-bank-of-anthos__kubernetes-manifests__ledger-db.yaml"
#define API_DEPLOYMENT_YAML "kubernetes-api__testdata-HEAD__apps.v1.Deployment.yaml"
#define API_DEPLOYMENT_JSON "kubernetes-api__testdata-HEAD__apps.v1.Deployment.json"

/* Seconds a test that must not hang may take, valgrind included, before SIGALRM ends it. */
#define HANG_LIMIT_SECONDS 300

static const cJSON *
get(const cJSON *object, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(object, key);
}

/* object[k1][k2]...: a path of keys, NULL-terminated. */
static const cJSON *
dig(const cJSON *object, ...)
{
	va_list ap;
	const char *key;

	va_start(ap, object);
	while (object != NULL && (key = va_arg(ap, const char *)) != NULL)
		object = get(object, key);
	va_end(ap);
	return object;
}

static const char *
string_at(const cJSON *item)
{
	if (!cJSON_IsString(item))
		fail_msg("expected a string");
	return item->valuestring;
}

static double
number_at(const cJSON *item)
{
	if (!cJSON_IsNumber(item))
		fail_msg("expected a number");
	return item->valuedouble;
}

static const char *
kind_of(const cJSON *object)
{
	const cJSON *kind = get(object, "kind");

	return cJSON_IsString(kind) ? kind->valuestring : "(no kind)";
}

/* A set holding one object, "kind: Before", to show what a failing load leaves. */
static void
set_with_one(struct manifest_set *set)
{
	struct pg_error err = {""};

	manifest_set_init(set);
	if (manifest_load_text(set, "kind: Before\n", 13, "before.yaml", &err) != PG_OK)
		fail_msg("setup: %s", err.msg);
	assert_int_equal(set->count, 1);
}

static void
assert_set_is_one(const struct manifest_set *set, const cJSON *object)
{
	assert_int_equal(set->count, 1);
	assert_ptr_equal(set->items[0].object, object);
	assert_string_equal(kind_of(set->items[0].object), "Before");
	assert_string_equal(set->items[0].source, "before.yaml (document 1)");
}

/* Expected objects: "KIND@DOC" each, by kind and document number. */
struct load_row {
	const char *name;
	const char *text;
	const char *expected[5];
};

static const struct load_row load_rows[] = {
	{"empty document between ---", "kind: A\n---\n---\nkind: B\n", {"A@1", "B@3"}},
	{"leading and trailing ---", "---\nkind: A\n---\n", {"A@1"}},
	{"comment-only document", "kind: A\n---\n# nothing\n---\nkind: B\n", {"A@1", "B@3"}},
	{"null document", "kind: A\n---\n~\n---\nkind: B\n", {"A@1", "B@3"}},
	{"document end markers", "kind: A\n...\n---\nkind: B\n...\n", {"A@1", "B@2"}},
	{"nothing", "", {NULL}},
	{"only comments", "# nothing\n\n", {NULL}},
	{"JSON object", "{\"kind\": \"A\", \"n\": 1}", {"A@1"}},
	{"JSON after whitespace", "\n  \t{\"kind\": \"A\"}\n", {"A@1"}},
	{"JSON array", "[{\"kind\": \"A\"}, {\"kind\": \"B\"}]", {"A@1", "B@1"}},
	{"empty JSON array", "[]", {NULL}},
	{"JSON kind List",
	    "{\"kind\": \"List\", \"items\": [{\"kind\": \"A\"}, {\"kind\": \"B\"}]}",
	    {"A@1", "B@1"}},
	{"kind List then a document",
	    "apiVersion: v1\nkind: List\nitems:\n- {kind: A}\n- {kind: B}\n---\nkind: C\n",
	    {"A@1", "B@1", "C@2"}},
	{"empty kind List", "apiVersion: v1\nkind: List\nitems: []\n", {NULL}},
	{"YAML sequence of objects", "- kind: A\n- kind: B\n", {"A@1", "B@1"}},
};

/* Documents and lists become objects, each with its document number in its source. */
static void
test_documents_and_lists(void **state)
{
	struct manifest_set set;
	struct pg_error err;
	char source[64];
	const char *at;
	size_t i, j, n;
	int result;

	(void)state;
	for (i = 0; i < sizeof(load_rows) / sizeof(load_rows[0]); i++) {
		manifest_set_init(&set);
		memset(&err, 0, sizeof(err));
		result = manifest_load_text(&set, load_rows[i].text, strlen(load_rows[i].text),
		    "in.yaml", &err);
		if (result != PG_OK)
			fail_msg("%s: %s", load_rows[i].name, err.msg);
		for (n = 0; n < 5 && load_rows[i].expected[n]; n++)
			;
		if (set.count != n)
			fail_msg("%s: %zu objects, want %zu", load_rows[i].name, set.count, n);
		for (j = 0; j < n; j++) {
			at = strchr(load_rows[i].expected[j], '@');
			snprintf(source, sizeof(source), "in.yaml (document %s)", at + 1);
			if (strncmp(kind_of(set.items[j].object), load_rows[i].expected[j],
			    (size_t)(at - load_rows[i].expected[j])) != 0 ||
			    strlen(kind_of(set.items[j].object)) !=
			    (size_t)(at - load_rows[i].expected[j]))
				fail_msg("%s: object %zu is kind %s, want %s", load_rows[i].name, j,
				    kind_of(set.items[j].object), load_rows[i].expected[j]);
			if (strcmp(set.items[j].source, source) != 0)
				fail_msg("%s: object %zu from \"%s\", want \"%s\"",
				    load_rows[i].name, j, set.items[j].source, source);
		}
		manifest_set_release(&set);
		assert_int_equal(set.count, 0);
		assert_null(set.items);
	}
}

/* Objects keep their contents: a JSON object keeps its types, a List item its keys. */
static void
test_contents_kept(void **state)
{
	static const char json[] = "{\"kind\": \"Deployment\", \"spec\": {\"replicas\": 3, "
	    "\"paused\": false, \"x\": null, \"s\": \"20\", \"list\": [1, \"2\"]}}";
	static const char list[] = "kind: List\nitems:\n- kind: A\n  metadata: {name: a}\n";
	struct manifest_set set;
	struct pg_error err = {""};
	const cJSON *spec;

	(void)state;
	manifest_set_init(&set);
	assert_int_equal(manifest_load_text(&set, json, strlen(json), "d.json", &err), PG_OK);
	assert_int_equal(manifest_load_text(&set, list, strlen(list), "l.yaml", &err), PG_OK);
	assert_int_equal(set.count, 2);
	spec = get(set.items[0].object, "spec");
	assert_true(number_at(get(spec, "replicas")) == 3);
	assert_true(cJSON_IsFalse(get(spec, "paused")));
	assert_true(cJSON_IsNull(get(spec, "x")));
	assert_string_equal(string_at(get(spec, "s")), "20");
	assert_true(number_at(cJSON_GetArrayItem(get(spec, "list"), 0)) == 1);
	assert_string_equal(string_at(cJSON_GetArrayItem(get(spec, "list"), 1)), "2");
	assert_string_equal(set.items[0].source, "d.json (document 1)");
	assert_string_equal(string_at(dig(set.items[1].object, "metadata", "name", NULL)), "a");
	assert_string_equal(set.items[1].source, "l.yaml (document 1)");
	manifest_set_release(&set);
	/* Released sets can be reused and released again. */
	assert_int_equal(manifest_load_text(&set, list, strlen(list), "l.yaml", &err), PG_OK);
	assert_int_equal(set.count, 1);
	manifest_set_release(&set);
	manifest_set_release(&set);
}

struct error_row {
	const char *name;
	const char *text;
	int code;
	const char *message;	/* whole, or the start when prefix is set */
	int prefix;
};

static const struct error_row error_rows[] = {
	{"invalid YAML", "kind: A\nspec: [\n", PG_ERR_PARSE, "in.yaml:3: invalid YAML: ", 1},
	{"invalid YAML, line counted across documents", "a: 1\n---\nb: 2\nc: 3\nd: [\n",
	    PG_ERR_PARSE, "in.yaml:6: invalid YAML: ", 1},
	{"invalid YAML indentation", "kind: A\nspec:\n  a: 1\n b: 2\n", PG_ERR_PARSE,
	    "in.yaml:4: invalid YAML: ", 1},
	{"tab indentation", "kind: A\nspec:\n\ta: 1\n", PG_ERR_PARSE, "in.yaml:3: invalid YAML: ",
	    1},
	{"invalid JSON", "{\"kind\": \"A\",\n \"spec\": }\n", PG_ERR_PARSE,
	    "in.yaml:2: invalid JSON", 0},
	{"truncated JSON, reported at its last line", "[{\"kind\": \"A\"},\n{\"kind\":\n",
	    PG_ERR_PARSE, "in.yaml:2: invalid JSON", 0},
	{"scalar document", "hello\n", PG_ERR_INVALID, "in.yaml (document 1): not an object", 0},
	{"scalar second document", "kind: A\n---\n42\n", PG_ERR_INVALID,
	    "in.yaml (document 2): not an object", 0},
	{"List item that is not an object", "kind: List\nitems: [{kind: A}, 3]\n", PG_ERR_INVALID,
	    "in.yaml (document 1): a list item is not an object", 0},
	{"JSON array with a string", "[{\"kind\": \"A\"}, \"x\"]", PG_ERR_INVALID,
	    "in.yaml (document 1): a list item is not an object", 0},
	{"complex mapping key", "kind: A\n---\n? [a, b]\n: c\n", PG_ERR_INVALID,
	    "in.yaml (document 2): line 3: mapping keys must be scalars", 0},
	{"self-referencing alias", "kind: A\n---\na: &a [*a]\n", PG_ERR_TOOBIG,
	    "in.yaml (document 2): expands to more than 2000000 nodes or is deeper than 100 levels", 0},
};

/* Every failure leaves the set as it was and says where. */
static void
test_load_errors(void **state)
{
	struct manifest_set set;
	struct pg_error err;
	const cJSON *before;
	size_t i;
	int result;

	(void)state;
	for (i = 0; i < sizeof(error_rows) / sizeof(error_rows[0]); i++) {
		set_with_one(&set);
		before = set.items[0].object;
		memset(&err, 0, sizeof(err));
		result = manifest_load_text(&set, error_rows[i].text, strlen(error_rows[i].text),
		    "in.yaml", &err);
		if (result != error_rows[i].code)
			fail_msg("%s: result %s, want %s (%s)", error_rows[i].name,
			    pg_result_name(result), pg_result_name(error_rows[i].code), err.msg);
		if (error_rows[i].prefix)
			TF_ASSERT_PREFIX(err.msg, error_rows[i].message);
		else if (strcmp(err.msg, error_rows[i].message) != 0)
			fail_msg("%s:\n got  \"%s\"\n want \"%s\"", error_rows[i].name, err.msg,
			    error_rows[i].message);
		assert_set_is_one(&set, before);
		manifest_set_release(&set);
	}
}

/* Nesting deeper than MANIFEST_MAX_DEPTH is refused; exactly that deep is fine. */
static void
test_depth_cap(void **state)
{
	char text[2 * (MANIFEST_MAX_DEPTH + 10) + 16];
	struct manifest_set set;
	struct pg_error err = {""};
	int depth, i;

	(void)state;
	for (depth = MANIFEST_MAX_DEPTH; depth <= MANIFEST_MAX_DEPTH + 1; depth++) {
		/* {"a": [[[...]]]}: the object is level 0, the lists 1 to depth. */
		size_t n = 0;

		n += (size_t)snprintf(text + n, sizeof(text) - n, "a: ");
		for (i = 0; i < depth; i++)
			text[n++] = '[';
		for (i = 0; i < depth; i++)
			text[n++] = ']';
		text[n++] = '\n';
		text[n] = '\0';
		manifest_set_init(&set);
		if (depth == MANIFEST_MAX_DEPTH) {
			if (manifest_load_text(&set, text, n, "deep.yaml", &err) != PG_OK)
				fail_msg("depth %d: %s", depth, err.msg);
			assert_int_equal(set.count, 1);
		} else {
			assert_int_equal(manifest_load_text(&set, text, n, "deep.yaml", &err),
			    PG_ERR_TOOBIG);
			assert_string_equal(err.msg, "deep.yaml (document 1): expands to more than 2000000 "
			    "nodes or is deeper than 100 levels");
			assert_int_equal(set.count, 0);
		}
		manifest_set_release(&set);
	}
}

/* Scalars take YAML 1.2 core schema types, not YAML 1.1 ones. */
enum scalar_type { S_NUMBER, S_STRING, S_TRUE, S_FALSE, S_NULL };

struct scalar_row {
	const char *yaml;	/* after "v: " */
	enum scalar_type type;
	double number;
	const char *string;
};

static const struct scalar_row scalar_rows[] = {
	{"20", S_NUMBER, 20, NULL},
	{"\"20\"", S_STRING, 0, "20"},
	{"'20'", S_STRING, 0, "20"},
	{"0", S_NUMBER, 0, NULL},
	{"-7", S_NUMBER, -7, NULL},
	{"+5", S_NUMBER, 5, NULL},
	{"1.5", S_NUMBER, 1.5, NULL},
	{".5", S_NUMBER, 0.5, NULL},
	{"1e3", S_NUMBER, 1000, NULL},
	{"-2.5E-1", S_NUMBER, -0.25, NULL},
	{"0x1F", S_NUMBER, 31, NULL},
	{"0x1f", S_NUMBER, 31, NULL},
	{"0o17", S_NUMBER, 15, NULL},
	{"true", S_TRUE, 0, NULL},
	{"True", S_TRUE, 0, NULL},
	{"TRUE", S_TRUE, 0, NULL},
	{"false", S_FALSE, 0, NULL},
	{"~", S_NULL, 0, NULL},
	{"null", S_NULL, 0, NULL},
	{"NULL", S_NULL, 0, NULL},
	{"", S_NULL, 0, NULL},
	{"\"true\"", S_STRING, 0, "true"},
	{"'~'", S_STRING, 0, "~"},
	{"\"\"", S_STRING, 0, ""},
	/* YAML 1.1 booleans and forms that 1.2 reads as strings. */
	{"yes", S_STRING, 0, "yes"},
	{"no", S_STRING, 0, "no"},
	{"on", S_STRING, 0, "on"},
	{"0b101", S_STRING, 0, "0b101"},
	{"1_000", S_STRING, 0, "1_000"},
	{"0x", S_STRING, 0, "0x"},
	{"0xZZ", S_STRING, 0, "0xZZ"},
	{"1.2.3", S_STRING, 0, "1.2.3"},
	{"12e", S_STRING, 0, "12e"},
	{"+", S_STRING, 0, "+"},
	{"-.", S_STRING, 0, "-."},
	{"v0.6.10", S_STRING, 0, "v0.6.10"},
	{"500m", S_STRING, 0, "500m"},
	{"0.5Gi", S_STRING, 0, "0.5Gi"},
	{"2008-01-01T01:01:01Z", S_STRING, 0, "2008-01-01T01:01:01Z"},
	{"jdbc:postgresql://db:5432/x", S_STRING, 0, "jdbc:postgresql://db:5432/x"},
	{"|\n  line\n", S_STRING, 0, "line\n"},
	{">-\n  folded\n  text\n", S_STRING, 0, "folded text"},
};

static void
check_scalar(const struct scalar_row *row, const cJSON *v)
{
	switch (row->type) {
	case S_NUMBER:
		if (!cJSON_IsNumber(v) || fabs(v->valuedouble - row->number) > 1e-9)
			fail_msg("v: %s: want the number %g", row->yaml, row->number);
		break;
	case S_STRING:
		if (!cJSON_IsString(v) || strcmp(v->valuestring, row->string) != 0)
			fail_msg("v: %s: want the string \"%s\"", row->yaml, row->string);
		break;
	case S_TRUE:
		if (!cJSON_IsTrue(v))
			fail_msg("v: %s: want true", row->yaml);
		break;
	case S_FALSE:
		if (!cJSON_IsFalse(v))
			fail_msg("v: %s: want false", row->yaml);
		break;
	case S_NULL:
		if (!cJSON_IsNull(v))
			fail_msg("v: %s: want null", row->yaml);
		break;
	}
}

static void
run_scalar_rows(const struct scalar_row *rows, size_t count)
{
	char text[256];
	struct pg_error err;
	cJSON *tree;
	size_t i;

	for (i = 0; i < count; i++) {
		snprintf(text, sizeof(text), "v: %s\n", rows[i].yaml);
		memset(&err, 0, sizeof(err));
		if (manifest_yaml_to_json(text, strlen(text), &tree, &err) != PG_OK)
			fail_msg("v: %s: %s", rows[i].yaml, err.msg);
		check_scalar(&rows[i], get(tree, "v"));
		cJSON_Delete(tree);
	}
}

static void
test_scalar_types(void **state)
{
	(void)state;
	run_scalar_rows(scalar_rows, sizeof(scalar_rows) / sizeof(scalar_rows[0]));
}

/* manifest_yaml_to_json(): one document; none is null; two are an error. */
static void
test_yaml_to_json_documents(void **state)
{
	struct pg_error err = {""};
	cJSON *tree = NULL;

	(void)state;
	assert_int_equal(manifest_yaml_to_json("", 0, &tree, &err), PG_OK);
	assert_true(cJSON_IsNull(tree));
	cJSON_Delete(tree);

	assert_int_equal(manifest_yaml_to_json("[1, {a: b}]", 11, &tree, &err), PG_OK);
	assert_true(cJSON_IsArray(tree));
	assert_int_equal(cJSON_GetArraySize(tree), 2);
	cJSON_Delete(tree);

	assert_int_equal(manifest_yaml_to_json("a: 1\n---\nb: 2\n", 14, &tree, &err),
	    PG_ERR_INVALID);
	assert_null(tree);
	assert_string_equal(err.msg, "more than one YAML document");

	assert_int_equal(manifest_yaml_to_json("a: [\n", 5, &tree, &err), PG_ERR_PARSE);
	assert_null(tree);
	TF_ASSERT_CONTAINS(err.msg, "invalid YAML");
}

/* Aliases are expanded into copies. */
static void
test_aliases_expanded(void **state)
{
	static const char yaml[] = "base: &env {name: POOL, value: \"20\"}\n"
	    "env: [*env, *env]\n";
	struct pg_error err = {""};
	cJSON *tree = NULL;
	const cJSON *env;

	(void)state;
	assert_int_equal(manifest_yaml_to_json(yaml, strlen(yaml), &tree, &err), PG_OK);
	env = get(tree, "env");
	assert_int_equal(cJSON_GetArraySize(env), 2);
	assert_true(cJSON_Compare(cJSON_GetArrayItem(env, 0), get(tree, "base"), 1));
	assert_true(cJSON_Compare(cJSON_GetArrayItem(env, 1), get(tree, "base"), 1));
	assert_ptr_not_equal(cJSON_GetArrayItem(env, 0), get(tree, "base"));
	cJSON_Delete(tree);
}

/* "Billion laughs": nine levels of nine aliases is refused, quickly, set untouched. */
static void
test_alias_bomb(void **state)
{
	static const char bomb[] =
	    "apiVersion: v1\n"
	    "kind: ConfigMap\n"
	    "data:\n"
	    "  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	    "  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	    "  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	    "  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	    "  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	    "  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
	    "  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
	    "  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
	struct manifest_set set;
	struct pg_error err = {""};
	const cJSON *before;
	cJSON *tree = (cJSON *)1;

	(void)state;
	set_with_one(&set);
	before = set.items[0].object;
	alarm(HANG_LIMIT_SECONDS);
	assert_int_equal(manifest_load_text(&set, bomb, strlen(bomb), "bomb.yaml", &err),
	    PG_ERR_TOOBIG);
	assert_string_equal(err.msg, "bomb.yaml (document 1): expands to more than 2000000 nodes "
	    "or is deeper than 100 levels");
	assert_set_is_one(&set, before);
	manifest_set_release(&set);

	assert_int_equal(manifest_yaml_to_json(bomb, strlen(bomb), &tree, &err), PG_ERR_TOOBIG);
	assert_null(tree);
	TF_ASSERT_CONTAINS(err.msg, "more than 2000000 nodes");
	alarm(0);
}

/* Directories: *.yaml, *.yml and *.json in byte order of name; nothing else, no recursion. */
static void
test_load_directory(void **state)
{
	static const char *const want[][2] = {
		{"Z", "Z.yaml (document 1)"},
		{"A", "a.yml (document 1)"},
		{"B1", "b.yaml (document 1)"},
		{"B2", "b.yaml (document 2)"},
		{"C", "c.json (document 1)"},
	};
	char dir[4096], sub[4200], source[4400];
	struct manifest_set set;
	struct pg_error err = {""};
	size_t i;

	(void)state;
	tf_make_tmpdir(dir, sizeof(dir));
	tf_write_file(dir, "b.yaml", "kind: B1\n---\nkind: B2\n");
	tf_write_file(dir, "a.yml", "kind: A\n");
	tf_write_file(dir, "c.json", "{\"kind\": \"C\"}\n");
	tf_write_file(dir, "Z.yaml", "kind: Z\n");
	tf_write_file(dir, "d.txt", "kind: D\n");
	tf_write_file(dir, "e.yaml.bak", "kind: E\n");
	tf_write_file(dir, "f.YAML", "kind: F\n");
	tf_write_file(dir, ".hidden.yaml", "kind: H\n");
	tf_write_file(dir, "README", "not: yaml: at all\n");
	snprintf(sub, sizeof(sub), "%s/sub.yaml", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	tf_write_file(sub, "inner.yaml", "kind: Inner\n");

	set_with_one(&set);
	if (manifest_load(&set, dir, &err) != PG_OK)
		fail_msg("manifest_load: %s", err.msg);
	assert_int_equal(set.count, 1 + sizeof(want) / sizeof(want[0]));
	assert_string_equal(kind_of(set.items[0].object), "Before");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(source, sizeof(source), "%s/%s", dir, want[i][1]);
		assert_string_equal(kind_of(set.items[i + 1].object), want[i][0]);
		assert_string_equal(set.items[i + 1].source, source);
	}
	manifest_set_release(&set);
	tf_remove_tree(dir);
}

/* A bad file fails the whole directory, names the file, and leaves the set unchanged. */
static void
test_load_directory_failure(void **state)
{
	char dir[4096], expected[4400];
	struct manifest_set set;
	struct pg_error err = {""};
	const cJSON *before;

	(void)state;
	tf_make_tmpdir(dir, sizeof(dir));
	tf_write_file(dir, "a.yaml", "kind: A\n---\nkind: A2\n");
	tf_write_file(dir, "b.yaml", "kind: B\nspec: [\n");
	tf_write_file(dir, "c.yaml", "kind: C\n");
	set_with_one(&set);
	before = set.items[0].object;
	assert_int_equal(manifest_load(&set, dir, &err), PG_ERR_PARSE);
	snprintf(expected, sizeof(expected), "%s/b.yaml:3: invalid YAML: ", dir);
	TF_ASSERT_PREFIX(err.msg, expected);
	assert_set_is_one(&set, before);

	/* The same set takes the directory once the file is fixed. */
	tf_write_file(dir, "b.yaml", "kind: B\n");
	assert_int_equal(manifest_load(&set, dir, &err), PG_OK);
	assert_int_equal(set.count, 5);
	assert_string_equal(kind_of(set.items[4].object), "C");
	manifest_set_release(&set);

	/* A file that is not an object fails the directory too. */
	tf_write_file(dir, "c.yaml", "kind: C\n---\njust a string\n");
	set_with_one(&set);
	before = set.items[0].object;
	assert_int_equal(manifest_load(&set, dir, &err), PG_ERR_INVALID);
	snprintf(expected, sizeof(expected), "%s/c.yaml (document 2): not an object", dir);
	assert_string_equal(err.msg, expected);
	assert_set_is_one(&set, before);
	manifest_set_release(&set);
	tf_remove_tree(dir);
}

/* Files: JSON and YAML by content, a missing file is an I/O error naming it. */
static void
test_load_files(void **state)
{
	char dir[4096], path[4200], expected[4400];
	struct manifest_set set;
	struct pg_error err = {""};
	const cJSON *before;

	(void)state;
	tf_make_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/deploy.json", dir);
	tf_write_file(NULL, path, "{\n  \"apiVersion\": \"apps/v1\",\n  \"kind\": \"Deployment\",\n"
	    "  \"spec\": {\"replicas\": 2}\n}\n");
	manifest_set_init(&set);
	assert_int_equal(manifest_load(&set, path, &err), PG_OK);
	assert_int_equal(set.count, 1);
	assert_true(number_at(dig(set.items[0].object, "spec", "replicas", NULL)) == 2);
	snprintf(expected, sizeof(expected), "%s (document 1)", path);
	assert_string_equal(set.items[0].source, expected);

	/* A JSON array in a .yaml file: the content decides, not the name. */
	snprintf(path, sizeof(path), "%s/list.yaml", dir);
	tf_write_file(NULL, path, "[{\"kind\": \"A\"}, {\"kind\": \"B\"}]\n");
	assert_int_equal(manifest_load(&set, path, &err), PG_OK);
	assert_int_equal(set.count, 3);
	assert_string_equal(kind_of(set.items[2].object), "B");
	manifest_set_release(&set);

	/* Invalid JSON in a file names the file and the line. */
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	tf_write_file(NULL, path, "{\n  \"kind\": \"A\",\n  \"spec\": {\n}\n");
	set_with_one(&set);
	before = set.items[0].object;
	assert_int_equal(manifest_load(&set, path, &err), PG_ERR_PARSE);
	snprintf(expected, sizeof(expected), "%s:4: invalid JSON", path);
	assert_string_equal(err.msg, expected);
	assert_set_is_one(&set, before);

	snprintf(path, sizeof(path), "%s/missing.yaml", dir);
	assert_int_equal(manifest_load(&set, path, &err), PG_ERR_IO);
	snprintf(expected, sizeof(expected), "unable to open '%s'", path);
	TF_ASSERT_PREFIX(err.msg, expected);
	assert_set_is_one(&set, before);
	manifest_set_release(&set);
	tf_remove_tree(dir);
}

static void
load_fixture(struct manifest_set *set, const char *name, char *path, size_t size)
{
	struct pg_error err = {""};

	tf_fixture_path(path, size, name);
	manifest_set_init(set);
	if (manifest_load(set, path, &err) != PG_OK)
		fail_msg("%s: %s", path, err.msg);
}

static void
assert_source(const struct manifest_object *item, const char *path, int document)
{
	char expected[4400];

	snprintf(expected, sizeof(expected), "%s (document %d)", path, document);
	assert_string_equal(item->source, expected);
}

/* bank-of-anthos balance-reader.yaml: a Service and a Spring Boot Deployment. */
static void
test_fixture_balance_reader(void **state)
{
	struct manifest_set set;
	char path[4096];
	const cJSON *svc, *deploy, *container, *env, *probe;

	(void)state;
	load_fixture(&set, BALANCE_READER, path, sizeof(path));
	assert_int_equal(set.count, 2);
	svc = set.items[0].object;
	deploy = set.items[1].object;
	assert_source(&set.items[0], path, 1);
	assert_source(&set.items[1], path, 2);

	assert_string_equal(string_at(get(svc, "apiVersion")), "v1");
	assert_string_equal(kind_of(svc), "Service");
	assert_string_equal(string_at(dig(svc, "metadata", "name", NULL)), "balancereader");
	assert_true(number_at(get(cJSON_GetArrayItem(dig(svc, "spec", "ports", NULL), 0),
	    "port")) == 8080);
	assert_string_equal(string_at(dig(svc, "spec", "type", NULL)), "ClusterIP");

	assert_string_equal(string_at(get(deploy, "apiVersion")), "apps/v1");
	assert_string_equal(kind_of(deploy), "Deployment");
	assert_string_equal(string_at(dig(deploy, "metadata", "name", NULL)), "balancereader");
	assert_null(dig(deploy, "metadata", "namespace", NULL));
	assert_null(dig(deploy, "spec", "replicas", NULL));
	assert_string_equal(string_at(dig(deploy, "metadata", "labels", "team", NULL)), "ledger");
	assert_string_equal(string_at(dig(deploy, "spec", "template", "metadata", "annotations",
	    "proxy.istio.io/config", NULL)), "{ \"holdApplicationUntilProxyStarts\": true }");

	container = cJSON_GetArrayItem(dig(deploy, "spec", "template", "spec", "containers",
	    NULL), 0);
	assert_string_equal(string_at(get(container, "name")), "balancereader");
	env = get(container, "env");
	assert_int_equal(cJSON_GetArraySize(env), 9);
	assert_string_equal(string_at(get(cJSON_GetArrayItem(env, 0), "value")), "v0.6.10");
	assert_string_equal(string_at(get(cJSON_GetArrayItem(env, 1), "name")), "PORT");
	assert_string_equal(string_at(get(cJSON_GetArrayItem(env, 1), "value")), "8080");
	assert_string_equal(string_at(get(cJSON_GetArrayItem(env, 2), "value")), "true");
	assert_string_equal(string_at(get(cJSON_GetArrayItem(env, 5), "value")), "1000000");
	assert_string_equal(string_at(get(cJSON_GetArrayItem(env, 6), "value")),
	    "-XX:+UnlockExperimentalVMOptions -XX:+UseCGroupMemoryLimitForHeap -Xms256m -Xmx512m");
	assert_string_equal(string_at(get(cJSON_GetArrayItem(env, 8), "name")), "NAMESPACE");
	assert_null(get(cJSON_GetArrayItem(env, 8), "value"));
	assert_string_equal(string_at(dig(cJSON_GetArrayItem(env, 8), "valueFrom", "fieldRef",
	    "fieldPath", NULL)), "metadata.namespace");
	assert_int_equal(cJSON_GetArraySize(get(container, "envFrom")), 2);
	assert_string_equal(string_at(dig(cJSON_GetArrayItem(get(container, "envFrom"), 1),
	    "configMapRef", "name", NULL)), "ledger-db-config");
	assert_string_equal(string_at(dig(container, "resources", "limits", "ephemeral-storage",
	    NULL)), "0.5Gi");
	assert_string_equal(string_at(dig(container, "resources", "limits", "cpu", NULL)), "500m");
	assert_true(cJSON_IsTrue(dig(container, "securityContext", "readOnlyRootFilesystem",
	    NULL)));
	assert_true(cJSON_IsFalse(dig(container, "securityContext", "privileged", NULL)));
	probe = get(container, "livenessProbe");
	assert_true(number_at(get(probe, "initialDelaySeconds")) == 120);
	assert_true(number_at(dig(probe, "httpGet", "port", NULL)) == 8080);
	assert_true(number_at(dig(deploy, "spec", "template", "spec", "securityContext",
	    "runAsUser", NULL)) == 1000);
	assert_true(cJSON_IsObject(get(cJSON_GetArrayItem(dig(deploy, "spec", "template", "spec",
	    "volumes", NULL), 0), "emptyDir")));
	manifest_set_release(&set);
}

/* bank-of-anthos ledger-db.yaml: ConfigMap, Service and StatefulSet. */
static void
test_fixture_ledger_db(void **state)
{
	struct manifest_set set;
	char path[4096];
	const cJSON *cm, *svc, *sts;

	(void)state;
	load_fixture(&set, LEDGER_DB, path, sizeof(path));
	assert_int_equal(set.count, 3);
	cm = set.items[0].object;
	svc = set.items[1].object;
	sts = set.items[2].object;
	assert_source(&set.items[0], path, 1);
	assert_source(&set.items[1], path, 2);
	assert_source(&set.items[2], path, 3);

	assert_string_equal(kind_of(cm), "ConfigMap");
	assert_string_equal(string_at(dig(cm, "metadata", "name", NULL)), "ledger-db-config");
	assert_string_equal(string_at(dig(cm, "data", "SPRING_DATASOURCE_URL", NULL)),
	    "jdbc:postgresql://ledger-db:5432/postgresdb");
	assert_string_equal(string_at(dig(cm, "data", "POSTGRES_DB", NULL)), "postgresdb");

	assert_string_equal(kind_of(svc), "Service");
	assert_true(number_at(get(cJSON_GetArrayItem(dig(svc, "spec", "ports", NULL), 0),
	    "targetPort")) == 5432);

	assert_string_equal(string_at(get(sts, "apiVersion")), "apps/v1");
	assert_string_equal(kind_of(sts), "StatefulSet");
	assert_string_equal(string_at(dig(sts, "metadata", "name", NULL)), "ledger-db");
	assert_true(number_at(dig(sts, "spec", "replicas", NULL)) == 1);
	assert_string_equal(string_at(dig(sts, "spec", "serviceName", NULL)), "ledger-db");
	assert_int_equal(cJSON_GetArraySize(get(cJSON_GetArrayItem(dig(sts, "spec", "template",
	    "spec", "containers", NULL), 0), "envFrom")), 3);
	manifest_set_release(&set);
}

/*
 * kubernetes/api testdata: the same Deployment written as YAML and as JSON,
 * every field populated, must give the same tree (types included).
 */
static void
test_fixture_api_deployment_yaml_equals_json(void **state)
{
	struct manifest_set yaml, json;
	char yaml_path[4096], json_path[4096];
	const cJSON *y;

	(void)state;
	load_fixture(&yaml, API_DEPLOYMENT_YAML, yaml_path, sizeof(yaml_path));
	load_fixture(&json, API_DEPLOYMENT_JSON, json_path, sizeof(json_path));
	assert_int_equal(yaml.count, 1);
	assert_int_equal(json.count, 1);
	assert_source(&yaml.items[0], yaml_path, 1);
	assert_source(&json.items[0], json_path, 1);
	y = yaml.items[0].object;
	assert_string_equal(string_at(get(y, "apiVersion")), "apps/v1");
	assert_string_equal(kind_of(y), "Deployment");
	assert_string_equal(string_at(dig(y, "metadata", "creationTimestamp", NULL)),
	    "2008-01-01T01:01:01Z");
	assert_true(number_at(dig(y, "metadata", "generation", NULL)) == 7);
	assert_true(number_at(dig(y, "spec", "replicas", NULL)) == 1);
	assert_true(cJSON_IsTrue(dig(y, "spec", "paused", NULL)));
	assert_string_equal(string_at(dig(y, "spec", "strategy", "rollingUpdate", "maxSurge",
	    NULL)), "maxSurgeValue");
	if (!cJSON_Compare(y, json.items[0].object, 1))
		fail_msg("the YAML and JSON forms of apps.v1.Deployment differ");
	manifest_set_release(&yaml);
	manifest_set_release(&json);
}

/*
 * Regression (fixed): manifest.c, manifest_plain_scalar(): hex and octal plain scalars are
 * read with strtoull(), which skips leading blanks and takes a sign, so
 * "0x 1F" becomes the number 31 and "0x-1" the number 18446744073709551615,
 * where YAML 1.2 core reads both (and "0o -7") as strings.
 */
static void
test_regression_hex_scalar_with_blank_or_sign(void **state)
{
	static const struct scalar_row rows[] = {
		{"0x 1F", S_STRING, 0, "0x 1F"},
		{"0x-1", S_STRING, 0, "0x-1"},
		{"0o -7", S_STRING, 0, "0o -7"},
	};

	(void)state;
	run_scalar_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

/*
 * Regression (fixed): manifest.c, manifest_load_text(): JSON is parsed with
 * cJSON_ParseWithLengthOpts(..., require_null_terminated = 0) and what
 * follows the first value is ignored. A file holding a stream of JSON
 * objects, which kubectl applies one by one, loads as its first object
 * only, with PG_OK: the other workloads silently drop out of the budget.
 * Expected: every object (or an error); got: one object.
 */
static void
test_regression_json_stream_truncated(void **state)
{
	static const char text[] = "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\"}\n"
	    "{\"apiVersion\": \"apps/v1\", \"kind\": \"StatefulSet\"}\n";
	struct manifest_set set;
	struct pg_error err = {""};
	int result;

	(void)state;
	manifest_set_init(&set);
	result = manifest_load_text(&set, text, strlen(text), "stream.json", &err);
	if (result == PG_OK) {
		assert_int_equal(set.count, 2);
		assert_string_equal(kind_of(set.items[1].object), "StatefulSet");
	}
	manifest_set_release(&set);
}

/*
 * Regression (fixed): manifest.c, manifest_convert(): the alias cap counts nodes, not
 * bytes, and each alias of a scalar is a full copy. A 256 KiB document whose
 * aliases stay far below MANIFEST_MAX_NODES (1111 nodes) expands to about
 * 256 MiB of strings, four times MANIFEST_MAX_BYTES, and loads with PG_OK.
 * Expected PG_ERR_TOOBIG. (Unskipped before the fix, this allocates ~300 MB.)
 */
static void
test_regression_alias_bytes_uncapped(void **state)
{
	static const char tail[] = "\"\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	    "d: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n";
	size_t leaf = 256 * 1024, n = 0;
	char *text;
	struct manifest_set set;
	struct pg_error err = {""};

	(void)state;
	text = malloc(leaf + sizeof(tail) + 16);
	assert_non_null(text);
	memcpy(text, "a: &a \"", 7);
	n = 7;
	memset(text + n, 'x', leaf);
	n += leaf;
	memcpy(text + n, tail, sizeof(tail));
	n += sizeof(tail) - 1;
	manifest_set_init(&set);
	alarm(HANG_LIMIT_SECONDS);
	assert_int_equal(manifest_load_text(&set, text, n, "wide.yaml", &err), PG_ERR_TOOBIG);
	alarm(0);
	assert_int_equal(set.count, 0);
	manifest_set_release(&set);
	free(text);
}

/*
 * Regression: the node cap was counted per document, so forty documents each
 * just under it (tests/fuzz/regressions/manifest-alias-docs-oom.bin, found
 * while fuzzing) took 8 GB. The cap now holds for the whole file.
 */
static void
test_regression_alias_documents(void **state)
{
	struct manifest_set set;
	struct pg_error err;

	(void)state;
	manifest_set_init(&set);
	assert_int_equal(manifest_load(&set, "tests/fuzz/regressions/manifest-alias-docs-oom.bin",
	    &err), PG_ERR_TOOBIG);
	TF_ASSERT_CONTAINS(err.msg, "(document 2): expands to more than 2000000 nodes");
	assert_int_equal(set.count, 0);
	manifest_set_release(&set);
}

/*
 * What kubectl makes of YAML that libyaml's document API leaves to its user:
 * merge keys, tags, and the order they are applied in. Every row was checked
 * against kubectl v1.32.13 (`kubectl label --local -f F x=y -o json`, which
 * decodes files the way `kubectl apply -f` does, offline): the object
 * "spec: TEXT" loads with spec equal to the JSON, or fails with the message.
 */
struct kubectl_row {
	const char *spec;
	const char *json;	/* NULL: the load fails */
	const char *message;
};

static const struct kubectl_row kubectl_rows[] = {
	/* Merge keys: later writes win, a merge over the keys before it too; lists of
	 * mappings are merged last to first, so their earlier mappings win. */
	{"{<<: {replicas: 50}}", "{\"replicas\": 50}", NULL},
	{"{replicas: 1, <<: {replicas: 50}}", "{\"replicas\": 50}", NULL},
	{"{<<: {replicas: 50}, replicas: 1}", "{\"replicas\": 1}", NULL},
	{"{<<: [{replicas: 50}, {replicas: 7, paused: true}]}",
	    "{\"replicas\": 50, \"paused\": true}", NULL},
	{"{<<: [{replicas: 50}, {replicas: 7, paused: true}], replicas: 3}",
	    "{\"replicas\": 3, \"paused\": true}", NULL},
	{"{<<: {<<: {replicas: 9}, paused: true}}", "{\"replicas\": 9, \"paused\": true}", NULL},
	{"{<<: {replicas: 9}, <<: {paused: true}}", "{\"replicas\": 9, \"paused\": true}", NULL},
	{"{<<: [{replicas: 9}, {replicas: 10}], <<: {replicas: 11}}", "{\"replicas\": 11}", NULL},
	{"{<<: {replicas: 11}, <<: [{replicas: 9}, {replicas: 10}]}", "{\"replicas\": 9}", NULL},
	{"{<<: {a: {b: 1}}, a: {c: 2}}", "{\"a\": {\"c\": 2}}", NULL},
	{"{!!merge <<: {replicas: 9}}", "{\"replicas\": 9}", NULL},
	{"{a: &x {replicas: 9}, b: &y {paused: true}, <<: [*x, *y]}",
	    "{\"a\": {\"replicas\": 9}, \"b\": {\"paused\": true}, \"replicas\": 9, \"paused\": true}",
	    NULL},
	{"{<<: []}", "{}", NULL},
	{"{\"<<\": {replicas: 9}}", "{\"<<\": {\"replicas\": 9}}", NULL},
	{"{<<: 5}", NULL, "line 4: the merge key '<<' takes a mapping or a list of mappings"},
	{"{<<: null}", NULL, "line 4: the merge key '<<' takes a mapping or a list of mappings"},
	{"{<<: [{a: 1}, 5]}", NULL,
	    "line 4: the merge key '<<' takes a mapping or a list of mappings"},
	/* kubectl merges at '&a <<' and not at '!!str <<'; libyaml cannot tell them apart. */
	{"{&a <<: {replicas: 9}}", NULL, "line 4: a '<<' key with an anchor or a tag: write '<<' "
	    "alone to merge, or quote it"},
	{"{!!str <<: {replicas: 9}}", NULL, "line 4: a '<<' key with an anchor or a tag: write "
	    "'<<' alone to merge, or quote it"},
	/* A key given twice by the mapping itself stays an error; a merged one is not. */
	{"{replicas: 1, <<: {replicas: 50}, replicas: 3}", NULL,
	    "line 4: key 'replicas' is defined twice"},
	/* !!binary: Go's padded base64, CR and LF skipped, decoded to a string, keys too. */
	{"{replicas: !!binary NTA=}", "{\"replicas\": \"50\"}", NULL},
	{"{replicas: !!binary \"NTA=\\r\\n\"}", "{\"replicas\": \"50\"}", NULL},
	{"{replicas: !!binary \"YWJjZA==\"}", "{\"replicas\": \"abcd\"}", NULL},
	{"{replicas: !!binary \"\"}", "{\"replicas\": \"\"}", NULL},
	{"{YQ==: !!binary YQ==, !!binary YQ==: x}", "{\"YQ==\": \"a\", \"a\": \"x\"}", NULL},
	{"{replicas: !<tag:yaml.org,2002:binary> NTA=}", "{\"replicas\": \"50\"}", NULL},
	{"{replicas: !!binary \"NT A=\"}", NULL, "line 4: !!binary value is not valid base64"},
	{"{replicas: !!binary \"NTA\"}", NULL, "line 4: !!binary value is not valid base64"},
	{"{replicas: !!binary \"NT=A\"}", NULL, "line 4: !!binary value is not valid base64"},
	{"{replicas: !!binary \"YWJj====\"}", NULL, "line 4: !!binary value is not valid base64"},
	{"{replicas: !!binary \"YQ==YQ==\"}", NULL, "line 4: !!binary value is not valid base64"},
	{"{replicas: !!binary \"not base64!\"}", NULL,
	    "line 4: !!binary value is not valid base64"},
	/* kubectl sends "\u0000"; a C string cannot hold it. */
	{"{replicas: !!binary \"AA==\"}", NULL, "line 4: !!binary value holds a NUL byte"},
	/* Core tags type the text whatever its quoting; other tags keep it a string. */
	{"{replicas: !!int \"50\"}", "{\"replicas\": 50}", NULL},
	{"{replicas: !!float \"50\"}", "{\"replicas\": 50}", NULL},
	{"{replicas: !!bool \"true\"}", "{\"replicas\": true}", NULL},
	{"{replicas: !!null \"\"}", "{\"replicas\": null}", NULL},
	{"{replicas: !foo 50}", "{\"replicas\": \"50\"}", NULL},
	{"{replicas: !!int \"abc\"}", NULL, "line 4: 'abc' is not a valid !!int"},
};

static void
test_kubectl_decoding(void **state)
{
	char text[512];
	struct manifest_set set;
	struct pg_error err;
	cJSON *want;
	size_t i;
	int result;

	(void)state;
	for (i = 0; i < sizeof(kubectl_rows) / sizeof(kubectl_rows[0]); i++) {
		const struct kubectl_row *row = &kubectl_rows[i];

		snprintf(text, sizeof(text), "apiVersion: apps/v1\nkind: Deployment\n"
		    "metadata: {name: api, namespace: ns}\nspec: %s\n", row->spec);
		manifest_set_init(&set);
		memset(&err, 0, sizeof(err));
		result = manifest_load_text(&set, text, strlen(text), "k.yaml", &err);
		if (row->json == NULL) {
			char want_msg[PG_ERROR_MAX];

			snprintf(want_msg, sizeof(want_msg), "k.yaml (document 1): %s", row->message);
			if (result != PG_ERR_INVALID || strcmp(err.msg, want_msg) != 0)
				fail_msg("spec: %s\n got  %s \"%s\"\n want \"%s\"", row->spec,
				    pg_result_name(result), err.msg, want_msg);
			assert_int_equal(set.count, 0);
			manifest_set_release(&set);
			continue;
		}
		if (result != PG_OK)
			fail_msg("spec: %s: %s", row->spec, err.msg);
		assert_int_equal(set.count, 1);
		want = cJSON_Parse(row->json);
		assert_non_null(want);
		if (!cJSON_Compare(get(set.items[0].object, "spec"), want, 1)) {
			char *got = cJSON_PrintUnformatted(get(set.items[0].object, "spec"));

			fail_msg("spec: %s\n got  %s\n want %s", row->spec, got, row->json);
		}
		cJSON_Delete(want);
		manifest_set_release(&set);
	}
}

/*
 * Regression (BUG-4 of the 2026-12-03 robustness report): kubectl applies
 * these files differently from what the loader made of them, so `check`
 * counted 1 / 10 / nothing / 10 / nothing / 1 where kubectl applies 50
 * replicas / pool 100 / 50 replicas / pool 100 / 50 replicas / 50 replicas.
 * The report's inputs; the loader now gives kubectl's objects, or refuses.
 */
static void
test_regression_kubectl_applies_differently(void **state)
{
	static const char head[] = "apiVersion: apps/v1\nkind: Deployment\n"
	    "metadata: {name: api, namespace: synergyflow, labels: "
	    "{app.kubernetes.io/part-of: synergyflow}}\n";
	static const char merge_spec[] = "spec:\n  <<: {replicas: 50}\n"
	    "  selector: {matchLabels: {app: api}}\n";
	static const char merge_env[] = "spec:\n  replicas: 10\n  template:\n    spec:\n"
	    "      containers:\n        - name: api\n          image: x\n"
	    "          env: [<<: {name: SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE, "
	    "value: \"100\"}]\n";
	static const char binary_api[] = "apiVersion: !!binary YXBwcy92MQ==\nkind: Deployment\n"
	    "metadata: {name: api, namespace: synergyflow}\nspec: {replicas: 50}\n";
	static const char binary_name[] = "spec:\n  replicas: 10\n  template:\n    spec:\n"
	    "      containers:\n        - name: api\n          image: x\n"
	    "          env: [{name: !!binary "
	    "U1BSSU5HX0RBVEFTT1VSQ0VfSElLQVJJX01BWElNVU1QT09MU0laRQ==,"
	    " value: \"100\"}]\n";
	static const char list[] = "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n"
	    "- apiVersion: apps/v1\n  kind: Deployment\n"
	    "  metadata: {name: api, namespace: synergyflow}\n"
	    "  spec: {replicas: 50}\n";
	static const char json[] = "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	    "\"metadata\":{\"name\":\"api\",\"namespace\":\"synergyflow\"},"
	    "\"spec\":{\"replicas\":1,\"replicas\":50}}";
	const cJSON *env;
	struct manifest_set set;
	struct pg_error err = {""};
	char text[1024];

	(void)state;
	manifest_set_init(&set);
	snprintf(text, sizeof(text), "%s%s", head, merge_spec);
	assert_int_equal(manifest_load_text(&set, text, strlen(text), "m.yaml", &err), PG_OK);
	assert_true(number_at(dig(set.items[0].object, "spec", "replicas", NULL)) == 50);
	snprintf(text, sizeof(text), "%s%s", head, merge_env);
	assert_int_equal(manifest_load_text(&set, text, strlen(text), "m.yaml", &err), PG_OK);
	env = cJSON_GetArrayItem(dig(cJSON_GetArrayItem(dig(set.items[1].object, "spec",
	    "template", "spec", "containers", NULL), 0), "env", NULL), 0);
	assert_string_equal(string_at(get(env, "name")),
	    "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE");
	assert_string_equal(string_at(get(env, "value")), "100");
	assert_int_equal(manifest_load_text(&set, binary_api, strlen(binary_api), "m.yaml", &err),
	    PG_OK);
	assert_string_equal(string_at(get(set.items[2].object, "apiVersion")), "apps/v1");
	snprintf(text, sizeof(text), "%s%s", head, binary_name);
	assert_int_equal(manifest_load_text(&set, text, strlen(text), "m.yaml", &err), PG_OK);
	env = cJSON_GetArrayItem(dig(cJSON_GetArrayItem(dig(set.items[3].object, "spec",
	    "template", "spec", "containers", NULL), 0), "env", NULL), 0);
	assert_string_equal(string_at(get(env, "name")),
	    "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE");
	assert_int_equal(manifest_load_text(&set, list, strlen(list), "m.yaml", &err), PG_OK);
	assert_int_equal(set.count, 5);
	assert_string_equal(kind_of(set.items[4].object), "Deployment");
	assert_true(number_at(dig(set.items[4].object, "spec", "replicas", NULL)) == 50);
	/* cJSON keeps the first of two keys, Kubernetes the last: refused, as YAML's are. */
	assert_int_equal(manifest_load_text(&set, json, strlen(json), "m.json", &err),
	    PG_ERR_INVALID);
	assert_string_equal(err.msg, "m.json (document 1): key 'spec.replicas' is defined twice");
	assert_int_equal(set.count, 5);
	manifest_set_release(&set);
}

/*
 * Any object with `items` is a list to kubectl, whatever its kind; JSON keys
 * given twice are refused.
 */
static void
test_lists_and_json_keys(void **state)
{
	static const struct load_row rows[] = {
		{"kind DeploymentList", "kind: DeploymentList\nitems: [{kind: A}, {kind: B}]\n",
		    {"A@1", "B@1"}},
		{"kind Deployment with items", "kind: Deployment\nspec: {replicas: 1}\n"
		    "items: [{kind: A}]\n", {"A@1"}},
		{"items null", "kind: DeploymentList\nitems: null\n---\nkind: B\n", {"B@2"}},
		{"JSON StatefulSetList",
		    "{\"kind\": \"StatefulSetList\", \"items\": [{\"kind\": \"A\"}]}", {"A@1"}},
		{"JSON same key in two objects",
		    "{\"kind\": \"A\", \"a\": {\"x\": 1}, \"b\": {\"x\": 2}}", {"A@1"}},
	};
	static const struct error_row errors[] = {
		{"items not a list", "kind: DeploymentList\nitems: 5\n", PG_ERR_INVALID,
		    "in.yaml (document 1): 'items' is not a list", 0},
		{"JSON key twice at the top", "{\"kind\": \"A\", \"kind\": \"B\"}", PG_ERR_INVALID,
		    "in.yaml (document 1): key 'kind' is defined twice", 0},
		{"JSON key twice in a list item, second document",
		    "{\"kind\": \"A\"}\n{\"kind\": \"List\", \"items\": [{}, {\"metadata\": "
		    "{\"name\": \"a\", \"name\": \"b\"}}]}", PG_ERR_INVALID,
		    "in.yaml (document 2): key 'items[1].metadata.name' is defined twice", 0},
	};
	struct manifest_set set;
	struct pg_error err;
	size_t i, j, n;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		manifest_set_init(&set);
		if (manifest_load_text(&set, rows[i].text, strlen(rows[i].text), "in.yaml", &err))
			fail_msg("%s: %s", rows[i].name, err.msg);
		for (n = 0; n < 5 && rows[i].expected[n]; n++)
			;
		if (set.count != n)
			fail_msg("%s: %zu objects, want %zu", rows[i].name, set.count, n);
		for (j = 0; j < n; j++)
			if (strncmp(kind_of(set.items[j].object), rows[i].expected[j], 1) != 0)
				fail_msg("%s: object %zu is %s", rows[i].name, j,
				    kind_of(set.items[j].object));
		manifest_set_release(&set);
	}
	for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		set_with_one(&set);
		assert_int_equal(manifest_load_text(&set, errors[i].text, strlen(errors[i].text),
		    "in.yaml", &err), errors[i].code);
		if (strcmp(err.msg, errors[i].message) != 0)
			fail_msg("%s:\n got  \"%s\"\n want \"%s\"", errors[i].name, err.msg,
			    errors[i].message);
		assert_int_equal(set.count, 1);
		manifest_set_release(&set);
	}
}

/*
 * Regression: finding a key again was a walk over the keys already there, so a
 * mapping of n keys took n^2 / 2 comparisons: 40 s for a ConfigMap of 100,000
 * keys. Keys past the first few are found through a hash table now; a JSON
 * object's duplicate check likewise.
 */
static void
test_regression_wide_mapping(void **state)
{
	size_t n = 200000, i, len = 0, cap = n * 24 + 64;
	char *yaml = malloc(cap), *json = malloc(cap);
	struct manifest_set set;
	struct pg_error err = {""};
	time_t start = time(NULL);

	(void)state;
	assert_non_null(yaml);
	assert_non_null(json);
	len = (size_t)snprintf(yaml, cap, "kind: ConfigMap\ndata:\n");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(yaml + len, cap - len, "  k%zu: v\n", i);
	manifest_set_init(&set);
	alarm(HANG_LIMIT_SECONDS);
	assert_int_equal(manifest_load_text(&set, yaml, len, "wide.yaml", &err), PG_OK);
	assert_int_equal(cJSON_GetArraySize(dig(set.items[0].object, "data", NULL)), (int)n);
	/* The last key again, in YAML and in JSON. */
	len += (size_t)snprintf(yaml + len, cap - len, "  k%zu: w\n", n - 1);
	assert_int_equal(manifest_load_text(&set, yaml, len, "wide.yaml", &err), PG_ERR_INVALID);
	TF_ASSERT_CONTAINS(err.msg, "key 'k199999' is defined twice");
	len = (size_t)snprintf(json, cap, "{\"kind\": \"ConfigMap\", \"data\": {");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(json + len, cap - len, "\"k%zu\": \"v\", ", i);
	len += (size_t)snprintf(json + len, cap - len, "\"k%zu\": \"w\"}}", n - 1);
	assert_int_equal(manifest_load_text(&set, json, len, "wide.json", &err), PG_ERR_INVALID);
	assert_string_equal(err.msg, "wide.json (document 1): key 'data.k199999' is defined twice");
	alarm(0);
	/* Seconds, not minutes: a generous bound that valgrind also meets. */
	assert_true(time(NULL) - start < 60);
	assert_int_equal(set.count, 1);
	manifest_set_release(&set);
	free(yaml);
	free(json);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documents_and_lists),
		cmocka_unit_test(test_contents_kept),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_depth_cap),
		cmocka_unit_test(test_scalar_types),
		cmocka_unit_test(test_yaml_to_json_documents),
		cmocka_unit_test(test_aliases_expanded),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_regression_alias_documents),
		cmocka_unit_test(test_load_directory),
		cmocka_unit_test(test_load_directory_failure),
		cmocka_unit_test(test_load_files),
		cmocka_unit_test(test_fixture_balance_reader),
		cmocka_unit_test(test_fixture_ledger_db),
		cmocka_unit_test(test_fixture_api_deployment_yaml_equals_json),
		cmocka_unit_test(test_regression_hex_scalar_with_blank_or_sign),
		cmocka_unit_test(test_regression_json_stream_truncated),
		cmocka_unit_test(test_regression_alias_bytes_uncapped),
		cmocka_unit_test(test_kubectl_decoding),
		cmocka_unit_test(test_regression_kubectl_applies_differently),
		cmocka_unit_test(test_lists_and_json_keys),
		cmocka_unit_test(test_regression_wide_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
