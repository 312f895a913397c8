# poolguard's container image, the one manifests/base/deployment.yaml runs:
#
#   docker build -t poolguard:0.1.0 .
#   kind load docker-image poolguard:0.1.0     (or push it where the cluster pulls from)
#
# Built on Debian bookworm with the distribution's libraries, as `make` does on a workstation;
# the runtime stage carries only the shared libraries build/poolguard links and CA certificates.

FROM debian:bookworm AS build
# The Makefile's DEB_PACKAGES without the test-only ones (cmocka, the openssl and curl tools):
# the compiler, make, pkg-config and the -dev package of every library in the Makefile's PKGS
# (tests/docker/check.sh holds the two lists together).
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		gcc libc6-dev make pkg-config \
		libmicrohttpd-dev libcjson-dev libyaml-dev libssl-dev libgnutls28-dev \
		libcurl4-openssl-dev libpq-dev \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile ./
# The fragments the Makefile includes (fuzz and bench targets, unused here but read by make).
COPY tests/fuzz/fuzz.mk tests/fuzz/
COPY tests/bench/bench.mk tests/bench/
COPY tests/spring/spring.mk tests/spring/
COPY include/ include/
COPY src/ src/
RUN make -j"$(nproc)" && build/poolguard --version

FROM debian:bookworm-slim
RUN apt-get update \
	&& DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		libmicrohttpd12 libcjson1 libyaml-0-2 libssl3 libcurl4 libgnutls30 libpq5 \
		ca-certificates \
	&& rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/poolguard /usr/local/bin/poolguard
# Fails the build if a shared library is missing from the list above.
RUN /usr/local/bin/poolguard --version
# The numeric user the Deployment's securityContext names (runAsUser 65532); no passwd entry needed.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/poolguard"]
