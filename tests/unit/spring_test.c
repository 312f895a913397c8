/*
 * spring_test.c - Spring Boot's property sources in a pod spec to the pool size: one row per
 * source, per precedence pair, profiles, locations, volumes, unknowns and bad values. Every
 * row runs twice: with the ConfigMap values as they are, and with each value replaced by its
 * spring_digest(), which must not change the outcome.
 *
 * Pod specs are YAML (flow style mostly); the first container is the one weighed.
 */
#include "unit/testutil.h"

#include <cjson/cJSON.h>

#include "poolguard/error.h"
#include "poolguard/manifest.h"
#include "poolguard/spring.h"

#define POOL "spring.datasource.hikari.maximum-pool-size"
#define ENV_POOL "SPRING_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE"

/* application.yml that sets the pool to n, nested. */
#define YML_POOL(n) "spring:\n  datasource:\n    hikari:\n      maximum-pool-size: " #n "\n"
/* A ConfigMap volume "cfg" of ConfigMap app-config mounted at dir. */
#define MOUNT(dir) "volumeMounts: [{name: cfg, mountPath: " dir "}]"
#define VOLUME "volumes: [{name: cfg, configMap: {name: app-config}}]"

struct cm {
	const char *name;
	const char *key;
	const char *value;
};

struct row {
	const char *name;
	const char *pod;
	struct cm maps[8];
	int no_maps;			/* pass maps NULL */
	const char *vars[3];		/* poolSizeVariables; the two defaults when empty */
	int result;
	int found;
	long pool;
	int unknown;
	int from_configmap;
	const char *source;		/* a part of out.source */
	const char *err;		/* parts of err.msg, "|"-separated */
};

static const struct row rows[] = {
	/* No source. */
	{.name = "nothing", .pod = "{containers: [{name: app, image: x}]}"},
	{.name = "a decoy variable", .pod = "{containers: [{name: app, env: [{name: "
	    "SPRING_REPLICA_DATASOURCE_HIKARI_MAXIMUMPOOLSIZE, value: '9'}]}]}"},

	/* Environment variables, relaxed binding. */
	{.name = "env uniform", .pod = "{containers: [{name: app, env: [{name: " ENV_POOL
	    ", value: '20'}]}]}", .found = 1, .pool = 20, .source = "env " ENV_POOL},
	{.name = "env legacy with underscores", .pod = "{containers: [{name: app, env: [{name: "
	    "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE, value: '21'}]}]}", .found = 1,
	    .pool = 21, .source = "env SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE"},
	{.name = "env dotted lower case", .pod = "{containers: [{name: app, env: [{name: "
	    POOL ", value: '22'}]}]}", .found = 1, .pool = 22, .source = "env " POOL},
	{.name = "env legacy in lower case does not bind", .pod = "{containers: [{name: app, env:"
	    " [{name: spring_datasource_hikari_maximum_pool_size, value: '9'}]}]}"},
	{.name = "env uniform in lower case binds", .pod = "{containers: [{name: app, env:"
	    " [{name: spring_datasource_hikari_maximumpoolsize, value: '9'}]}]}", .found = 1,
	    .pool = 9},
	{.name = "env uniform before legacy", .pod = "{containers: [{name: app, env: ["
	    "{name: SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE, value: '5'}, {name: " ENV_POOL
	    ", value: '23'}]}]}", .found = 1, .pool = 23},
	{.name = "env last entry of a name wins", .pod = "{containers: [{name: app, env: ["
	    "{name: " ENV_POOL ", value: '5'}, {name: " ENV_POOL ", value: '24'}]}]}",
	    .found = 1, .pool = 24},
	{.name = "env from a ConfigMap key", .pod = "{containers: [{name: app, env: [{name: "
	    ENV_POOL ", valueFrom: {configMapKeyRef: {name: pools, key: size}}}]}]}",
	    .maps = {{"pools", "size", "19"}}, .found = 1, .pool = 19, .from_configmap = 1,
	    .source = "(ConfigMap pools key size)"},
	{.name = "env from a missing optional ConfigMap key is unset", .pod = "{containers: [{name:"
	    " app, env: [{name: " ENV_POOL ", valueFrom: {configMapKeyRef: {name: pools, key: "
	    "size, optional: true}}}, {name: SPRING_APPLICATION_JSON, valueFrom: {configMapKeyRef:"
	    " {name: pools, key: json, optional: true}}}], " MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"pools", "other", "1"}, {"app-config", "application.yml", YML_POOL(38)}},
	    .found = 1, .pool = 38, .from_configmap = 1},
	{.name = "envFrom a ConfigMap with a prefix", .pod = "{containers: [{name: app, envFrom: "
	    "[{prefix: SPRING_, configMapRef: {name: envs}}]}]}",
	    .maps = {{"envs", "DATASOURCE_HIKARI_MAXIMUMPOOLSIZE", "18"}}, .found = 1,
	    .pool = 18, .from_configmap = 1},
	{.name = "env overrides envFrom", .pod = "{containers: [{name: app, envFrom: "
	    "[{configMapRef: {name: envs}}], env: [{name: " ENV_POOL ", value: '17'}]}]}",
	    .maps = {{"envs", ENV_POOL, "3"}}, .found = 1, .pool = 17, .from_configmap = 1},
	{.name = "env from a Secret is unknown", .pod = "{containers: [{name: app, env: [{name: "
	    ENV_POOL ", valueFrom: {secretKeyRef: {name: db, key: pool}}}]}]}", .found = 1,
	    .unknown = 1, .source = "Secret 'db' key 'pool'"},
	{.name = "envFrom a Secret is unknown", .pod = "{containers: [{name: app, envFrom: "
	    "[{secretRef: {name: db-env}}]}]}", .found = 1, .unknown = 1,
	    .source = "Secret 'db-env' in envFrom"},
	{.name = "env missing ConfigMap is unknown", .pod = "{containers: [{name: app, env: "
	    "[{name: " ENV_POOL ", valueFrom: {configMapKeyRef: {name: gone, key: k}}}]}]}",
	    .found = 1, .unknown = 1, .from_configmap = 1, .source = "ConfigMap 'gone' (missing"},
	{.name = "env $(VAR) of an earlier variable", .pod = "{containers: [{name: app, env: ["
	    "{name: N, value: '16'}, {name: " ENV_POOL ", value: '$(N)'}]}]}", .found = 1,
	    .pool = 16},

	/* Command-line arguments. */
	{.name = "args", .pod = "{containers: [{name: app, args: ['--" POOL "=25']}]}",
	    .found = 1, .pool = 25, .source = "args"},
	{.name = "args camel case binds", .pod = "{containers: [{name: app, args: "
	    "['--spring.datasource.hikari.maximumPoolSize=26']}]}", .found = 1, .pool = 26},
	{.name = "args $(VAR) from env", .pod = "{containers: [{name: app, args: ['--" POOL
	    "=$(POOL_SIZE)'], env: [{name: POOL_SIZE, value: '33'}]}]}", .found = 1, .pool = 33},
	{.name = "args $(VAR) from a Secret", .pod = "{containers: [{name: app, args: ['--" POOL
	    "=$(P)'], env: [{name: P, valueFrom: {secretKeyRef: {name: s, key: p}}}]}]}",
	    .found = 1, .unknown = 1, .source = "Secret 's' key 'p'"},
	{.name = "args $$(VAR) is literal", .pod = "{containers: [{name: app, args: ['--" POOL
	    "=$$(P)'], env: [{name: P, value: '5'}]}]}", .result = PG_ERR_INVALID,
	    .err = "container 'app' args|'$(P)'"},
	{.name = "args after a bare -- are not options", .pod = "{containers: [{name: app, "
	    "args: ['--', '--" POOL "=25']}]}"},
	{.name = "java command: args after -jar", .pod = "{containers: [{name: app, command: "
	    "[java, -Xmx1g, -cp, /app, -D" POOL "=27, -jar, app.jar, '--" POOL "=28']}]}",
	    .found = 1, .pool = 28, .source = "command"},
	{.name = "java command: -D is a system property", .pod = "{containers: [{name: app, "
	    "command: [/usr/bin/java, -D" POOL "=27, -jar, app.jar]}]}", .found = 1, .pool = 27,
	    .source = "java command line"},
	{.name = "java command: -D after the main class is an app arg", .pod = "{containers: "
	    "[{name: app, command: [java, com.example.Main, -D" POOL "=27]}]}"},
	{.name = "sh -c exec java", .pod = "{containers: [{name: app, command: [sh, -c], args: "
	    "['exec java -D" POOL "=50 -jar /app.jar --server.port=8080']}]}", .found = 1,
	    .pool = 50, .source = "java command line"},
	{.name = "sh -c with a shell variable", .pod = "{containers: [{name: app, command: "
	    "[/bin/sh, -c, 'java -jar app.jar --" POOL "=$POOL']}]}", .found = 1, .unknown = 1,
	    .source = "shell variable"},

	/* Java system properties. */
	{.name = "JAVA_TOOL_OPTIONS", .pod = "{containers: [{name: app, env: [{name: "
	    "JAVA_TOOL_OPTIONS, value: '-Xmx1g -D" POOL "=29'}]}]}", .found = 1, .pool = 29,
	    .source = "JAVA_TOOL_OPTIONS"},
	{.name = "JAVA_TOOL_OPTIONS quoted", .pod = "{containers: [{name: app, env: [{name: "
	    "JAVA_TOOL_OPTIONS, value: \"-Da='x y' \\\"-D" POOL "=30\\\"\"}]}]}", .found = 1,
	    .pool = 30},
	{.name = "JAVA_TOOL_OPTIONS last -D wins", .pod = "{containers: [{name: app, env: [{name: "
	    "JAVA_TOOL_OPTIONS, value: '-D" POOL "=1 -D" POOL "=31'}]}]}", .found = 1, .pool = 31},
	{.name = "JDK_JAVA_OPTIONS over JAVA_TOOL_OPTIONS", .pod = "{containers: [{name: app, "
	    "env: [{name: JDK_JAVA_OPTIONS, value: '-D" POOL "=32'}, {name: JAVA_TOOL_OPTIONS, "
	    "value: '-D" POOL "=2'}]}]}", .found = 1, .pool = 32, .source = "JDK_JAVA_OPTIONS"},
	{.name = "java command -D over JDK_JAVA_OPTIONS", .pod = "{containers: [{name: app, "
	    "command: [java, -D" POOL "=33, -jar, a.jar], env: [{name: JDK_JAVA_OPTIONS, value: "
	    "'-D" POOL "=3'}]}]}", .found = 1, .pool = 33},
	{.name = "_JAVA_OPTIONS over the java command", .pod = "{containers: [{name: app, "
	    "command: [java, -D" POOL "=3, -jar, a.jar], env: [{name: _JAVA_OPTIONS, value: "
	    "'-D" POOL "=34'}]}]}", .found = 1, .pool = 34, .source = "_JAVA_OPTIONS"},
	{.name = "JAVA_TOOL_OPTIONS from a Secret", .pod = "{containers: [{name: app, env: "
	    "[{name: JAVA_TOOL_OPTIONS, valueFrom: {secretKeyRef: {name: jvm, key: opts}}}]}]}",
	    .found = 1, .unknown = 1, .source = "Secret 'jvm' key 'opts'"},

	/* SPRING_APPLICATION_JSON. */
	{.name = "SPRING_APPLICATION_JSON nested", .pod = "{containers: [{name: app, env: "
	    "[{name: SPRING_APPLICATION_JSON, value: '{\"spring\":{\"datasource\":{\"hikari\":"
	    "{\"maximum-pool-size\":31}}}}'}]}]}", .found = 1, .pool = 31,
	    .source = "SPRING_APPLICATION_JSON"},
	{.name = "SPRING_APPLICATION_JSON dotted string", .pod = "{containers: [{name: app, env: "
	    "[{name: SPRING_APPLICATION_JSON, value: '{\"" POOL "\":\"32\"}'}]}]}", .found = 1,
	    .pool = 32},
	{.name = "SPRING_APPLICATION_JSON half dotted", .pod = "{containers: [{name: app, env: "
	    "[{name: SPRING_APPLICATION_JSON, value: '{\"spring.datasource\":{\"hikari."
	    "maximumPoolSize\":35}}'}]}]}", .found = 1, .pool = 35},
	{.name = "SPRING_APPLICATION_JSON from a ConfigMap", .pod = "{containers: [{name: app, "
	    "env: [{name: SPRING_APPLICATION_JSON, valueFrom: {configMapKeyRef: {name: app-json, "
	    "key: json}}}]}]}", .maps = {{"app-json", "json", "{\"spring\": {\"datasource\": "
	    "{\"hikari\": {\"maximum-pool-size\": 36, \"idle-timeout\": 1000}}, \"other\": [1, 2"
	    ", 3]}}"}}, .found = 1, .pool = 36, .from_configmap = 1},
	{.name = "spring.application.json as an arg", .pod = "{containers: [{name: app, args: "
	    "['--spring.application.json={\"" POOL "\":37}']}]}", .found = 1, .pool = 37,
	    .source = "spring.application.json in args"},
	{.name = "SPRING_APPLICATION_JSON invalid", .pod = "{containers: [{name: app, env: "
	    "[{name: SPRING_APPLICATION_JSON, value: '{\"spring\": '}]}]}",
	    .result = PG_ERR_INVALID,
	    .err = "container 'app' SPRING_APPLICATION_JSON|invalid JSON"},

	/* Precedence pairs of the environment-level sources. */
	{.name = "args over SPRING_APPLICATION_JSON", .pod = "{containers: [{name: app, args: "
	    "['--" POOL "=41'], env: [{name: SPRING_APPLICATION_JSON, value: '{\"" POOL
	    "\":1}'}]}]}", .found = 1, .pool = 41, .source = "args"},
	{.name = "SPRING_APPLICATION_JSON over system properties", .pod = "{containers: [{name: "
	    "app, env: [{name: JAVA_TOOL_OPTIONS, value: '-D" POOL "=1'}, {name: "
	    "SPRING_APPLICATION_JSON, value: '{\"" POOL "\":42}'}]}]}", .found = 1, .pool = 42},
	{.name = "system properties over env", .pod = "{containers: [{name: app, env: [{name: "
	    ENV_POOL ", value: '1'}, {name: JAVA_TOOL_OPTIONS, value: '-D" POOL "=43'}]}]}",
	    .found = 1, .pool = 43},
	{.name = "env over a config file", .pod = "{containers: [{name: app, env: [{name: "
	    ENV_POOL ", value: '44'}], " MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application.yml", YML_POOL(1)}}, .found = 1, .pool = 44,
	    .from_configmap = 1},
	{.name = "legacy env over a config file", .pod = "{containers: [{name: app, env: [{name: "
	    "SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE, value: '21'}], " MOUNT("/config") "}], "
	    VOLUME "}", .maps = {{"app-config", "application.yml", YML_POOL(1)}}, .found = 1,
	    .pool = 21, .from_configmap = 1},
	{.name = "an unknown source above decides: unknown", .pod = "{containers: [{name: app, "
	    "env: [{name: " ENV_POOL ", value: '20'}, {name: SPRING_APPLICATION_JSON, valueFrom: "
	    "{secretKeyRef: {name: j, key: j}}}]}]}", .found = 1, .unknown = 1,
	    .source = "Secret 'j' key 'j'"},
	{.name = "a known source above an unknown one decides", .pod = "{containers: [{name: app,"
	    " args: ['--" POOL "=45'], env: [{name: SPRING_APPLICATION_JSON, valueFrom: "
	    "{secretKeyRef: {name: j, key: j}}}]}]}", .found = 1, .pool = 45},

	/* Config files in ConfigMaps. */
	{.name = "application.yml at /config", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], " VOLUME "}", .maps = {{"app-config", "application.yml",
	    YML_POOL(40)}}, .found = 1, .pool = 40, .from_configmap = 1,
	    .source = "ConfigMap 'app-config' key application.yml (mounted at /config)"},
	{.name = "application.yaml dotted key", .pod = "{containers: [{name: app, "
	    MOUNT("/config/") "}], " VOLUME "}", .maps = {{"app-config", "application.yaml",
	    POOL ": 46\n"}}, .found = 1, .pool = 46, .from_configmap = 1},
	{.name = "application.yml string value", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], " VOLUME "}", .maps = {{"app-config", "application.yml",
	    "spring.datasource:\n  hikari: {maximum-pool-size: '47'}\n"}}, .found = 1, .pool = 47,
	    .from_configmap = 1},
	{.name = "application.properties under workingDir/config", .pod = "{containers: [{name: "
	    "app, workingDir: /app, " MOUNT("/app/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application.properties", "# pools\n! more\nserver.port = "
	    "8080\nspring.datasource.hikari.maximum-pool-size : 48\n"}}, .found = 1, .pool = 48,
	    .from_configmap = 1},
	{.name = "/config is not ./config under another workingDir", .pod = "{containers: [{name: "
	    "app, workingDir: /app, " MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application.yml", YML_POOL(40)}}, .from_configmap = 0},
	{.name = "a file that is not a config name is not read", .pod = "{containers: [{name: app,"
	    " " MOUNT("/config") "}], " VOLUME "}", .maps = {{"app-config", "other.yml",
	    YML_POOL(40)}}, .from_configmap = 1},
	{.name = "properties over yml in one location", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], " VOLUME "}", .maps = {{"app-config", "application.yml",
	    YML_POOL(1)}, {"app-config", "application.properties", POOL "=49\n"}}, .found = 1,
	    .pool = 49, .from_configmap = 1, .source = "key application.properties"},
	{.name = "./config over ./", .pod = "{containers: [{name: app, workingDir: /app, "
	    "volumeMounts: [{name: cfg, mountPath: /app/config}, {name: top, mountPath: "
	    "/app/application.yml, subPath: application.yml}]}], volumes: [{name: cfg, configMap:"
	    " {name: app-config}}, {name: top, configMap: {name: top}}]}",
	    .maps = {{"app-config", "application.yml", YML_POOL(50)}, {"top", "application.yml",
	    YML_POOL(2)}}, .found = 1, .pool = 50, .from_configmap = 1,
	    .source = "mounted at /app/config"},
	{.name = "a subPath file mount", .pod = "{containers: [{name: app, volumeMounts: [{name: "
	    "cfg, mountPath: /config/application.yml, subPath: app.yml}]}], " VOLUME "}",
	    .maps = {{"app-config", "app.yml", YML_POOL(51)}}, .found = 1, .pool = 51,
	    .from_configmap = 1, .source = "key app.yml"},
	{.name = "configMap items map keys to paths", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], volumes: [{name: cfg, configMap: {name: app-config, items: "
	    "[{key: spring.yml, path: application.yml}]}}]}", .maps = {{"app-config",
	    "spring.yml", YML_POOL(52)}, {"app-config", "application.yml", YML_POOL(3)}},
	    .found = 1, .pool = 52, .from_configmap = 1, .source = "key spring.yml"},
	{.name = "a projected volume", .pod = "{containers: [{name: app, " MOUNT("/config")
	    "}], volumes: [{name: cfg, projected: {sources: [{secret: {name: s, items: [{key: a, "
	    "path: a}]}}, {configMap: {name: app-config}}]}}]}", .maps = {{"app-config",
	    "application.yml", YML_POOL(53)}}, .found = 1, .pool = 53, .from_configmap = 1},
	{.name = "config/<dir>/ subdirectories", .pod = "{containers: [{name: app, volumeMounts: "
	    "[{name: b, mountPath: /config/b}, {name: a, mountPath: /config/a}]}], volumes: "
	    "[{name: a, configMap: {name: ma}}, {name: b, configMap: {name: mb}}]}",
	    .maps = {{"ma", "application.yml", YML_POOL(4)}, {"mb", "application.yml",
	    YML_POOL(54)}}, .found = 1, .pool = 54, .from_configmap = 1, .source = "ConfigMap 'mb'"},
	{.name = "a Secret at /config is unknown", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], volumes: [{name: cfg, secret: {secretName: app-secret}}]}",
	    .found = 1, .unknown = 1, .source = "Secret 'app-secret' mounted at /config"},
	{.name = "a missing ConfigMap at /config is unknown", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], " VOLUME "}", .found = 1, .unknown = 1, .from_configmap = 1,
	    .source = "ConfigMap 'app-config' mounted at /config (missing)"},
	{.name = "a missing optional ConfigMap is nothing", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], volumes: [{name: cfg, configMap: {name: app-config, optional: "
	    "true}}]}", .from_configmap = 1},
	{.name = "no ConfigMaps readable: unknown", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], " VOLUME "}", .no_maps = 1, .found = 1, .unknown = 1,
	    .from_configmap = 1, .source = "not readable here"},
	{.name = "an emptyDir at /config is unknown", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], volumes: [{name: cfg, emptyDir: {}}]}", .found = 1,
	    .unknown = 1, .source = "volume cfg mounted at /config"},

	/* Profiles. */
	{.name = "profile file over plain (env)", .pod = "{containers: [{name: app, env: [{name: "
	    "SPRING_PROFILES_ACTIVE, value: prod}], " MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application.properties", POOL "=5\n"}, {"app-config",
	    "application-prod.yml", YML_POOL(60)}}, .found = 1, .pool = 60, .from_configmap = 1,
	    .source = "key application-prod.yml (mounted at /config)"},
	{.name = "profile file not active", .pod = "{containers: [{name: app, env: [{name: "
	    "SPRING_PROFILES_ACTIVE, value: dev}], " MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application.yml", YML_POOL(61)}, {"app-config",
	    "application-prod.yml", YML_POOL(6)}}, .found = 1, .pool = 61, .from_configmap = 1},
	{.name = "profile from args", .pod = "{containers: [{name: app, args: ["
	    "'--spring.profiles.active=prod'], " MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application.yml", YML_POOL(6)}, {"app-config",
	    "application-prod.yml", YML_POOL(62)}}, .found = 1, .pool = 62, .from_configmap = 1},
	{.name = "profile from application.yml", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], " VOLUME "}", .maps = {{"app-config", "application.yml",
	    "spring:\n  profiles:\n    active: prod\n  datasource.hikari.maximum-pool-size: 6\n"},
	    {"app-config", "application-prod.properties", POOL "=63\n"}}, .found = 1,
	    .pool = 63, .from_configmap = 1},
	{.name = "the last profile wins", .pod = "{containers: [{name: app, env: [{name: "
	    "SPRING_PROFILES_ACTIVE, value: 'eu, prod'}], " MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application-eu.yml", YML_POOL(7)}, {"app-config",
	    "application-prod.yml", YML_POOL(64)}}, .found = 1, .pool = 64, .from_configmap = 1},
	{.name = "the default profile", .pod = "{containers: [{name: app, " MOUNT("/config")
	    "}], " VOLUME "}", .maps = {{"app-config", "application.yml", YML_POOL(7)},
	    {"app-config", "application-default.yml", YML_POOL(65)}}, .found = 1, .pool = 65,
	    .from_configmap = 1},
	{.name = "no default profile once one is active", .pod = "{containers: [{name: app, env:"
	    " [{name: SPRING_PROFILES_ACTIVE, value: prod}], " MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application.yml", YML_POOL(66)}, {"app-config",
	    "application-default.yml", YML_POOL(8)}}, .found = 1, .pool = 66, .from_configmap = 1},
	{.name = "profiles from a Secret: unknown", .pod = "{containers: [{name: app, env: "
	    "[{name: SPRING_PROFILES_ACTIVE, valueFrom: {secretKeyRef: {name: p, key: p}}}], "
	    MOUNT("/config") "}], " VOLUME "}", .maps = {{"app-config", "application.yml",
	    YML_POOL(8)}}, .found = 1, .unknown = 1, .from_configmap = 1,
	    .source = "profiles from Secret 'p' key 'p'"},
	{.name = "profiles from a Secret under args: known", .pod = "{containers: [{name: app, "
	    "args: ['--" POOL "=67'], env: [{name: SPRING_PROFILES_ACTIVE, valueFrom: "
	    "{secretKeyRef: {name: p, key: p}}}]}]}", .found = 1, .pool = 67},

	/* Multi-document files. */
	{.name = "YAML on-profile document applies", .pod = "{containers: [{name: app, env: "
	    "[{name: SPRING_PROFILES_ACTIVE, value: prod}], " MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application.yml", YML_POOL(9) "---\nspring:\n  config:\n"
	    "    activate:\n      on-profile: prod\n  datasource.hikari.maximum-pool-size: 70\n"
	    "---\nspring.config.activate.on-profile: dev\n" POOL ": 9\n"}}, .found = 1,
	    .pool = 70, .from_configmap = 1},
	{.name = "YAML on-profile document inactive", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], " VOLUME "}", .maps = {{"app-config", "application.yml",
	    YML_POOL(71) "---\nspring.config.activate.on-profile: prod\n" POOL ": 9\n"}},
	    .found = 1, .pool = 71, .from_configmap = 1},
	{.name = "on-profile expressions", .pod = "{containers: [{name: app, env: [{name: "
	    "SPRING_PROFILES_ACTIVE, value: 'prod,eu'}], " MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application.yml", POOL ": 9\n---\n"
	    "spring.config.activate.on-profile: '!dev'\n" POOL ": 10\n---\n"
	    "spring.config.activate.on-profile: 'prod & us'\n" POOL ": 11\n---\n"
	    "spring.config.activate.on-profile: 'dev, (prod & eu)'\n" POOL ": 72\n---\n"
	    "spring.config.activate.on-profile: 'dev | us'\n" POOL ": 12\n"}}, .found = 1,
	    .pool = 72, .from_configmap = 1},
	{.name = "on-cloud-platform kubernetes applies", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], " VOLUME "}", .maps = {{"app-config", "application.yml",
	    POOL ": 9\n---\nspring.config.activate.on-cloud-platform: kubernetes\n" POOL
	    ": 73\n---\nspring.config.activate.on-cloud-platform: heroku\n" POOL ": 13\n"}},
	    .found = 1, .pool = 73, .from_configmap = 1},
	{.name = "properties #--- documents", .pod = "{containers: [{name: app, env: [{name: "
	    "SPRING_PROFILES_ACTIVE, value: prod}], " MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application.properties", POOL "=9\n#---\n"
	    "spring.config.activate.on-profile=prod\n" POOL "=74\n!---\n"
	    "spring.config.activate.on-profile=dev\n" POOL "=14\n"}}, .found = 1, .pool = 74,
	    .from_configmap = 1},
	{.name = "properties escapes and continuations", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], " VOLUME "}", .maps = {{"app-config", "application.properties",
	    "spring.datasource.hikari.\\\n    maximum-pool-size \\u0037\\\n  5\n"
	    "# " POOL "=1 \\\n" "server.port=1\n"}}, .found = 1, .pool = 75, .from_configmap = 1},

	/* Locations. */
	{.name = "spring.config.location replaces the defaults", .pod = "{containers: [{name: "
	    "app, env: [{name: SPRING_CONFIG_LOCATION, value: /etc/app/}], volumeMounts: [{name: "
	    "cfg, mountPath: /config}, {name: etc, mountPath: /etc/app}]}], volumes: [{name: cfg,"
	    " configMap: {name: app-config}}, {name: etc, configMap: {name: etc}}]}",
	    .maps = {{"app-config", "application.yml", YML_POOL(80)}, {"etc", "other.yml",
	    YML_POOL(15)}}, .from_configmap = 1},
	{.name = "spring.config.location directory", .pod = "{containers: [{name: app, args: "
	    "['--spring.config.location=optional:file:/etc/app/'], volumeMounts: [{name: cfg, "
	    "mountPath: /config}, {name: etc, mountPath: /etc/app}]}], volumes: [{name: cfg, "
	    "configMap: {name: app-config}}, {name: etc, configMap: {name: etc}}]}",
	    .maps = {{"app-config", "application.yml", YML_POOL(80)}, {"etc", "application.yml",
	    YML_POOL(81)}}, .found = 1, .pool = 81, .from_configmap = 1,
	    .source = "ConfigMap 'etc' key application.yml (mounted at /etc/app)"},
	{.name = "additional-location overrides the defaults", .pod = "{containers: [{name: app,"
	    " env: [{name: SPRING_CONFIG_ADDITIONAL_LOCATION, value: 'file:/etc/app/'}], "
	    "volumeMounts: [{name: cfg, mountPath: /config}, {name: etc, mountPath: /etc/app}]}],"
	    " volumes: [{name: cfg, configMap: {name: app-config}}, {name: etc, configMap: {name:"
	    " etc}}]}", .maps = {{"app-config", "application.yml", YML_POOL(16)}, {"etc",
	    "application.yml", YML_POOL(82)}}, .found = 1, .pool = 82, .from_configmap = 1},
	{.name = "a location file and its profile variant", .pod = "{containers: [{name: app, "
	    "env: [{name: SPRING_CONFIG_LOCATION, value: /etc/app/pool.yml}, {name: "
	    "SPRING_PROFILES_ACTIVE, value: prod}], volumeMounts: [{name: etc, mountPath: "
	    "/etc/app}]}], volumes: [{name: etc, configMap: {name: etc}}]}",
	    .maps = {{"etc", "pool.yml", YML_POOL(17)}, {"etc", "pool-prod.yml", YML_POOL(83)}},
	    .found = 1, .pool = 83, .from_configmap = 1, .source = "key pool-prod.yml"},
	{.name = "a location file in the image is unknown", .pod = "{containers: [{name: app, "
	    "args: ['--spring.config.location=file:/opt/app.yml']}]}", .found = 1, .unknown = 1,
	    .source = "file /opt/app.yml in the image"},
	{.name = "an optional location file in the image is nothing", .pod = "{containers: "
	    "[{name: app, args: ['--spring.config.location=optional:/opt/app.yml']}]}"},
	{.name = "a location with an extension hint", .pod = "{containers: [{name: app, args: "
	    "['--spring.config.additional-location=/etc/app/pool[.yaml]'], volumeMounts: [{name: "
	    "etc, mountPath: /etc/app}]}], volumes: [{name: etc, configMap: {name: etc}}]}",
	    .maps = {{"etc", "pool.yaml", YML_POOL(84)}}, .found = 1, .pool = 84,
	    .from_configmap = 1},
	{.name = "spring.config.name", .pod = "{containers: [{name: app, env: [{name: "
	    "SPRING_CONFIG_NAME, value: orders}], " MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application.yml", YML_POOL(18)}, {"app-config",
	    "orders.yml", YML_POOL(85)}}, .found = 1, .pool = 85, .from_configmap = 1},
	{.name = "import from a file overrides it", .pod = "{containers: [{name: app, "
	    "volumeMounts: [{name: cfg, mountPath: /config}, {name: etc, mountPath: /etc/db}]}], "
	    "volumes: [{name: cfg, configMap: {name: app-config}}, {name: etc, configMap: {name: "
	    "db}}]}", .maps = {{"app-config", "application.yml", YML_POOL(19)
	    "  config:\n    import: optional:file:/etc/db/db.properties\n"}, {"db",
	    "db.properties", POOL "=86\n"}}, .found = 1, .pool = 86, .from_configmap = 1,
	    .source = "ConfigMap 'db' key db.properties"},
	{.name = "import from env, a YAML list in a file", .pod = "{containers: [{name: app, env: "
	    "[{name: SPRING_CONFIG_IMPORT, value: 'configtree:/etc/tree/'}], volumeMounts: "
	    "[{name: t, mountPath: /etc/tree}]}], volumes: [{name: t, configMap: {name: tree}}]}",
	    .maps = {{"tree", POOL, "87\n"}}, .found = 1, .pool = 87, .from_configmap = 1},

	{.name = "additional-location from a Secret hides the defaults", .pod = "{containers: "
	    "[{name: app, env: [{name: SPRING_CONFIG_ADDITIONAL_LOCATION, valueFrom: "
	    "{secretKeyRef: {name: l, key: l}}}, {name: SPRING_PROFILES_ACTIVE, value: prod}], "
	    MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application.yml", YML_POOL(20)}}, .found = 1, .unknown = 1,
	    .from_configmap = 1, .source = "Secret 'l' key 'l'"},
	{.name = "a location from a Secret under env: known", .pod = "{containers: [{name: app, "
	    "env: [{name: " ENV_POOL ", value: '91'}, {name: SPRING_CONFIG_LOCATION, valueFrom: "
	    "{secretKeyRef: {name: l, key: l}}}]}]}", .found = 1, .pool = 91},

	/* Placeholders. */
	{.name = "placeholder from env", .pod = "{containers: [{name: app, env: [{name: DB_POOL, "
	    "value: '88'}], " MOUNT("/config") "}], " VOLUME "}", .maps = {{"app-config",
	    "application.yml", POOL ": ${DB_POOL:10}\n"}}, .found = 1, .pool = 88,
	    .from_configmap = 1},
	{.name = "placeholder default", .pod = "{containers: [{name: app, " MOUNT("/config")
	    "}], " VOLUME "}", .maps = {{"app-config", "application.yml",
	    POOL ": ${DB_POOL:${OTHER:89}}\n"}}, .found = 1, .pool = 89, .from_configmap = 1},
	{.name = "placeholder not in the pod spec: unknown", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], " VOLUME "}", .maps = {{"app-config", "application.yml",
	    POOL ": ${DB_POOL}\n"}}, .found = 1, .unknown = 1, .from_configmap = 1,
	    .source = "placeholder ${DB_POOL}"},
	{.name = "placeholder from a Secret: unknown", .pod = "{containers: [{name: app, env: "
	    "[{name: DB_POOL, valueFrom: {secretKeyRef: {name: s, key: k}}}], args: ['--" POOL
	    "=${DB_POOL:5}']}]}", .found = 1, .unknown = 1, .source = "Secret 's' key 'k'"},

	/* poolSizeVariables that relaxed binding does not know: the lowest source. */
	{.name = "a custom pool variable", .pod = "{containers: [{name: app, env: [{name: "
	    "DB_POOL, value: '7'}]}]}", .vars = {"DB_POOL", ENV_POOL}, .found = 1, .pool = 7,
	    .source = "env DB_POOL"},
	{.name = "a config file over a custom pool variable", .pod = "{containers: [{name: app, "
	    "env: [{name: DB_POOL, value: '7'}], " MOUNT("/config") "}], " VOLUME "}",
	    .maps = {{"app-config", "application.yml", YML_POOL(90)}}, .vars = {"DB_POOL"},
	    .found = 1, .pool = 90, .from_configmap = 1},

	/* Bad values. */
	{.name = "bad args value", .pod = "{containers: [{name: app, args: ['--" POOL "=abc']}]}",
	    .result = PG_ERR_INVALID, .err = "container 'app' args|'abc'|1 to 100000"},
	{.name = "zero", .pod = "{containers: [{name: app, env: [{name: " ENV_POOL ", value: "
	    "'0'}]}]}", .result = PG_ERR_INVALID, .err = "env " ENV_POOL "|'0'"},
	{.name = "above the cap", .pod = "{containers: [{name: app, env: [{name: JAVA_TOOL_OPTIONS"
	    ", value: '-D" POOL "=100001'}]}]}", .result = PG_ERR_INVALID,
	    .err = "JAVA_TOOL_OPTIONS|'100001'"},
	{.name = "a fraction in a file", .pod = "{containers: [{name: app, " MOUNT("/config")
	    "}], " VOLUME "}", .maps = {{"app-config", "application.yml", POOL ": 25.5\n"}},
	    .result = PG_ERR_INVALID, .err = "ConfigMap 'app-config' key application.yml|'25.5'"},
	{.name = "invalid YAML in a file Spring loads", .pod = "{containers: [{name: app, "
	    MOUNT("/config") "}], " VOLUME "}", .maps = {{"app-config", "application.yml",
	    "spring: [\n"}}, .result = PG_ERR_INVALID,
	    .err = "container 'app' ConfigMap 'app-config' key application.yml|invalid YAML"},
	{.name = "invalid YAML in a file Spring does not load", .pod = "{containers: [{name: app,"
	    " " MOUNT("/config") "}], " VOLUME "}", .maps = {{"app-config", "application-x.yml",
	    "spring: [\n"}}, .from_configmap = 1},
	{.name = "env not a list", .pod = "{containers: [{name: app, env: {a: b}}]}",
	    .result = PG_ERR_INVALID, .err = "container 'app': env must be a list"},
};

struct lookup {
	const struct row *row;
	int digest;
	char values[8][SPRING_DIGEST_MAX];
};

static const char *
lookup_value(void *ctx, const char *namespace, const char *name, const char *key, int *map_found)
{
	struct lookup *l = ctx;
	size_t i;

	*map_found = 0;
	assert_string_equal(namespace, "ns");
	for (i = 0; i < 8 && l->row->maps[i].name; i++) {
		if (strcmp(l->row->maps[i].name, name) != 0)
			continue;
		*map_found = 1;
		if (strcmp(l->row->maps[i].key, key) == 0)
			return l->digest && l->values[i][0] ? l->values[i] : l->row->maps[i].value;
	}
	return NULL;
}

/* Runs one row; prints what differs and returns 1 when it does not hold. */
static int
check_row(const struct row *r, int digest)
{
	static const char *const defaults[] = {ENV_POOL,
		"SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE"};
	struct lookup l = {.row = r, .digest = digest};
	struct spring_configmaps maps = {lookup_value, &l};
	struct spring_pool out;
	struct pg_error err = {""};
	cJSON *pod = NULL;
	const char *const *vars = r->vars[0] ? r->vars : defaults;
	const char *how = digest ? " (digests)" : "";
	size_t nvars = 0, i;
	char parts[256], *part, *save = NULL;
	int result, failed = 0;

	for (i = 0; i < 3 && r->vars[i]; i++)
		nvars++;
	if (nvars == 0)
		nvars = 2;
	if (manifest_yaml_to_json(r->pod, strlen(r->pod), &pod, &err) != PG_OK)
		fail_msg("%s: pod: %s", r->name, err.msg);
	for (i = 0; digest && i < 8 && r->maps[i].name; i++)
		if (spring_digest(r->maps[i].key, r->maps[i].value, l.values[i],
		    sizeof(l.values[i]), &err) != PG_OK)
			fail_msg("%s: digest: %s", r->name, err.msg);
	result = spring_container_pool(cJSON_GetArrayItem(cJSON_GetObjectItem(pod, "containers"),
	    0), pod, "ns", vars, nvars, r->no_maps ? NULL : &maps, &out, &err);
	if (result != r->result) {
		print_error("%s%s: result %d, expected %d (%s; source '%s')\n", r->name, how,
		    result, r->result, result ? err.msg : "", out.source);
		failed = 1;
	} else if (result == PG_OK) {
		if (out.found != r->found || out.pool != r->pool || out.unknown != r->unknown ||
		    out.from_configmap != r->from_configmap || (r->source &&
		    strstr(out.source, r->source) == NULL) || (!r->found && out.source[0])) {
			print_error("%s%s: found %d pool %ld unknown %d from_configmap %d source "
			    "'%s', expected %d %ld %d %d '%s'\n", r->name, how, out.found, out.pool,
			    out.unknown, out.from_configmap, out.source, r->found, r->pool,
			    r->unknown, r->from_configmap, r->source ? r->source : "");
			failed = 1;
		}
	} else if (r->err) {
		snprintf(parts, sizeof(parts), "%s", r->err);
		for (part = strtok_r(parts, "|", &save); part; part = strtok_r(NULL, "|", &save))
			if (strstr(err.msg, part) == NULL) {
				print_error("%s%s: expected \"%s\" in \"%s\"\n", r->name, how, part,
				    err.msg);
				failed = 1;
			}
	}
	cJSON_Delete(pod);
	return failed;
}

/* The whole table, every row with full ConfigMap values and with their digests. */
static void
test_rows(void **state)
{
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		failed += check_row(&rows[i], 0);
		failed += check_row(&rows[i], 1);
	}
	if (failed)
		fail_msg("%d of %zu runs failed", failed, 2 * sizeof(rows) / sizeof(rows[0]));
}

struct digest_row {
	const char *name;
	const char *key;
	const char *text;
	const char *digest;		/* exact; NULL: see contains */
	const char *contains;
};

static const struct digest_row digest_rows[] = {
	{.name = "not a config file", .key = "size", .text = "25", .digest = ""},
	{.name = "not JSON either", .key = "opts", .text = "-Dx=1", .digest = ""},
	{.name = "nested YAML", .key = "application.yml", .text = "server:\n  port: 8080\n"
	    YML_POOL(25) "    url: jdbc:postgresql://db/app\n  profiles.active: prod, eu\n",
	    .digest = SPRING_DIGEST_MARK POOL "=25\nspring.profiles.active=prod, eu\n"},
	{.name = "documents keep their conditions", .key = "application.yaml",
	    .text = "a: 1\n---\nspring.config.activate.on-profile: prod\n" POOL ": 30\n---\n"
	    "b: 2\n", .digest = SPRING_DIGEST_MARK "spring.config.activate.on-profile=prod\n"
	    POOL "=30\n"},
	{.name = "properties", .key = "x.properties", .text = "spring.datasource.hikari."
	    "maximumPoolSize=\\ 7\nspring.config.import=a.yml\n",
	    .digest = SPRING_DIGEST_MARK POOL "=\\ 7\nspring.config.import=a.yml\n"},
	{.name = "JSON under any key", .key = "json", .text = " {\"" POOL "\": 12}",
	    .digest = SPRING_DIGEST_MARK POOL "=12\n"},
	{.name = "invalid YAML", .key = "application.yml", .text = "a: [\n",
	    .contains = "#!invalid invalid YAML: line 2"},
	{.name = "a digest stays as it is", .key = "application.yml",
	    .text = SPRING_DIGEST_MARK POOL "=5\n", .digest = SPRING_DIGEST_MARK POOL "=5\n"},
};

static void
test_digest_rows(void **state)
{
	char out[SPRING_DIGEST_MAX];
	struct pg_error err = {""};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(digest_rows) / sizeof(digest_rows[0]); i++) {
		const struct digest_row *r = &digest_rows[i];

		if (spring_digest(r->key, r->text, out, sizeof(out), &err) != PG_OK)
			fail_msg("%s: %s", r->name, err.msg);
		if (r->digest && strcmp(out, r->digest) != 0)
			fail_msg("%s: digest '%s', expected '%s'", r->name, out, r->digest);
		if (r->contains)
			assert_contains(out, r->contains);
	}
}

/* A long application.yml digests to a few bytes, and a digest that cannot fit reads unknown. */
static void
test_digest_long(void **state)
{
	char *text = malloc(200000), out[SPRING_DIGEST_MIN];
	struct pg_error err = {""};
	size_t n = 0;
	int i;

	(void)state;
	assert_non_null(text);
	for (i = 0; i < 5000; i++)
		n += (size_t)snprintf(text + n, 200000 - n, "key%d: value %d\n", i, i);
	snprintf(text + n, 200000 - n, POOL ": 42\n");
	assert_int_equal(spring_digest("application.yml", text, out, sizeof(out), &err), PG_OK);
	assert_string_equal(out, SPRING_DIGEST_MARK POOL "=42\n");
	snprintf(text, 200000, "spring.config.import: ");
	for (i = 0, n = strlen(text); i < 30; i++)
		n += (size_t)snprintf(text + n, 200000 - n, "optional:file:/etc/x%d.yml,", i);
	assert_int_equal(spring_digest("application.yml", text, out, sizeof(out), &err), PG_OK);
	assert_string_equal(out, SPRING_DIGEST_MARK "#!unknown longer than the digest limit\n");
	assert_int_equal(spring_digest("application.yml", text, out, SPRING_DIGEST_MIN - 1, &err),
	    PG_ERR_TOOBIG);
	free(text);
}

/* Aliases that expand a billion times stop at the node cap instead of running on. */
static void
test_yaml_alias_bomb(void **state)
{
	static const char bomb[] = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	    "b: &b {k1: *a, k2: *a, k3: *a, k4: *a, k5: *a, k6: *a, k7: *a, k8: *a}\n"
	    "c: &c {k1: *b, k2: *b, k3: *b, k4: *b, k5: *b, k6: *b, k7: *b, k8: *b}\n"
	    "spring: &d {k1: *c, k2: *c, k3: *c, k4: *c, k5: *c, k6: *c, k7: *c, k8: *c}\n"
	    "e: {k1: *d, k2: *d}\n";
	char out[SPRING_DIGEST_MAX];
	struct pg_error err = {""};

	(void)state;
	assert_int_equal(spring_digest("application.yml", bomb, out, sizeof(out), &err), PG_OK);
	assert_string_equal(out, SPRING_DIGEST_MARK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_digest_rows),
		cmocka_unit_test(test_digest_long),
		cmocka_unit_test(test_yaml_alias_bomb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
