# SPDX-License-Identifier: Apache-2.0
# LOCAL TRY-OUT ONLY: the Auth0 emulator of the tests (tests/emulator) as an image, for
# deploy/compose/compose.emulator.yaml. It speaks plain HTTP and keeps every user in memory.
#   docker build -f deploy/docker/emulator.Dockerfile -t kyc-bridge-auth0-emulator .

FROM debian:12 AS build
# The emulator is built with the tests (-Dtests=true), whose configure step needs gtest too.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ meson ninja-build pkg-config cmake \
      librdkafka-dev libssl-dev libsqlite3-dev libsqlitecpp-dev nlohmann-json3-dev \
      prometheus-cpp-dev libcivetweb-dev libspdlog-dev libcurl4-openssl-dev \
      libtomlplusplus-dev libcli11-dev libsystemd-dev \
      libgtest-dev libgmock-dev libcpp-httplib-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN meson setup /build -Dtests=true --buildtype=release \
 && meson compile -C /build auth0-emulator

FROM debian:12-slim
# auth0-emulator's only library beyond libc and libstdc++ (objdump -p: NEEDED).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libcpp-httplib0.11 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/tests/emulator/auth0-emulator /usr/local/bin/auth0-emulator
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["auth0-emulator"]
CMD ["--listen", "0.0.0.0:8080", "--client-id", "demo-client", "--client-secret", "demo-secret", "--roles", "ROLE_CUSTOMER"]
