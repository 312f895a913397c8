# make spring-test: the proof against a real Spring Boot application. For every case in
# tests/spring/cases/, the Deployment's replicas run as processes of a minimal Spring Boot 3
# application (tests/spring/app, built with Maven, cached in ~/.cache/poolguard-spring) against a
# real PostgreSQL; their connections in pg_stat_activity must be the case's expected-connections
# and what `poolguard check` predicts. Needs Maven and a JDK 17 besides the Debian packages.
# The last line is "N passed, N failed".
SPRING_DEB_PACKAGES := python3-yaml
DEB_PACKAGES += $(SPRING_DEB_PACKAGES)

.PHONY: spring-test
# Whatever the include's place, a plain `make` keeps the goal it had.
SPRING_SAVED_GOAL := $(.DEFAULT_GOAL)

spring-test: deps
	@$(MAKE) --no-print-directory all
	@bash tests/spring/run.sh

.DEFAULT_GOAL := $(SPRING_SAVED_GOAL)
