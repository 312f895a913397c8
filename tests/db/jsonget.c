/*
 * jsonget.c - prints one value of a JSON document, for the shell tests.
 *
 *   jsonget FILE PATH     PATH: keys and array indexes joined by dots, "drift.0.field"
 *
 * Strings print bare, numbers as integers when whole, true/false/null as
 * themselves, objects and arrays as compact JSON; "length" after an array or
 * object prints its size. Exit 1 when the path does not exist, 2 on bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

int
main(int argc, char **argv)
{
	static char buf[1 << 20];
	char *path, *key, *next, *end, *text;
	cJSON *root, *node;
	size_t len;
	FILE *f;

	if (argc != 3 || (f = fopen(argv[1], "r")) == NULL) {
		fprintf(stderr, "usage: jsonget FILE PATH\n");
		return 2;
	}
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	if ((root = cJSON_Parse(buf)) == NULL) {
		fprintf(stderr, "jsonget: '%s' is not JSON\n", argv[1]);
		return 2;
	}
	node = root;
	path = strdup(argv[2]);
	for (key = path; key && node; key = next) {
		long i;

		if ((next = strchr(key, '.')) != NULL)
			*next++ = '\0';
		i = strtol(key, &end, 10);

		if (strcmp(key, "length") == 0 && (cJSON_IsArray(node) || cJSON_IsObject(node))) {
			printf("%d\n", cJSON_GetArraySize(node));
			return 0;
		}
		node = *end == '\0' && cJSON_IsArray(node) ? cJSON_GetArrayItem(node, (int)i) :
		    cJSON_GetObjectItemCaseSensitive(node, key);
	}
	if (node == NULL)
		return 1;
	if (cJSON_IsString(node))
		printf("%s\n", node->valuestring);
	else if (cJSON_IsNumber(node) && node->valuedouble == (double)(long)node->valuedouble)
		printf("%ld\n", (long)node->valuedouble);
	else {
		text = cJSON_PrintUnformatted(node);
		printf("%s\n", text);
	}
	return 0;
}
