# danegate on Debian 12, in two stages (build context: the repository root):
#   docker build -t danegate .
#   docker run --rm -v /etc/danegate:/etc/danegate:ro -p 8443:8443 danegate
# The build stage compiles the Release binary with the project's CMake build (no tests, no
# benchmarks); the runtime stage holds that binary and the shared libraries it links, nothing else.
# docker-compose.yml builds this image for its walk-through (README.md, "docker compose").

FROM debian:12 AS build
# The build packages of scripts/deps, without the test and benchmark ones (GoogleTest, Google
# Benchmark, nsd, ldnsutils): this build does not compile tests.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake ninja-build \
        libboost1.81-dev libssl-dev libunbound-dev libspdlog-dev libyaml-cpp-dev libcli11-dev prometheus-cpp-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the danegate target is built from (tests/ and benchmarks/ are not configured below).
COPY CMakeLists.txt ./
COPY conf conf
COPY dane dane
COPY routing routing
COPY proxy proxy
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDANEGATE_TESTS=OFF -DDANEGATE_BENCHMARKS=OFF \
    && cmake --build build --target danegate \
    && strip build/danegate \
    && build/danegate version

FROM debian:12-slim
# The packages of the libraries build/danegate links (readelf -d: libssl.so.3/libcrypto.so.3,
# libunbound.so.8, libspdlog.so.1.10, libfmt.so.9, libyaml-cpp.so.0.7, libprometheus-cpp-core.so.1.0,
# libstdc++.so.6, libgcc_s.so.1);
# Asio and Beast are header-only and compiled into the binary. dns-root-data gives the root trust
# anchor /usr/share/dns/root.key that danegate uses when the configuration names no anchor.
# scripts/check-deploy compares this list with the binary's NEEDED entries.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libssl3 libunbound8 libspdlog1.10 libfmt9 libyaml-cpp0.7 libprometheus-cpp-core1.0 libstdc++6 libgcc-s1 \
        dns-root-data \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin danegate \
    && install -d -m 0755 /etc/danegate
COPY --from=build /src/build/danegate /usr/bin/danegate
# Numeric, so that a runtime that insists on a non-root user (runAsNonRoot) can check it. The
# configuration, certificates and keys are mounted at /etc/danegate and must be readable by 10001.
USER 10001:10001
WORKDIR /etc/danegate
EXPOSE 8443
# No HEALTHCHECK here: the admin listener's address (/healthz, /readyz) is the configuration's
# choice. docker-compose.yml adds one for its configuration (bash's /dev/tcp: the image has no curl).
ENTRYPOINT ["danegate"]
CMD ["run", "-c", "/etc/danegate/danegate.yaml"]
