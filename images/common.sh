# What the daemonless build (images/build.sh, buildah) and the Docker build (images/docker-build.sh,
# for kind and skaffold) share: the image references, the build arguments, and the Redis image's
# recipe. Sourced, not run; it sets variables for the scripts that source it (so SC2034, unused
# variable, does not apply) and defines image_ref.
# shellcheck shell=bash disable=SC2034

# Image references: the names both builds give the images and the nodes (local, kind) run them by.
REF_NODE_BASE=localhost/jobchannel/node-base:24
REF_DEBIAN_BASE=localhost/jobchannel/debian-base:bookworm
REF_RELAY=localhost/jobchannel/relay:dev
REF_WORKER=localhost/jobchannel/worker:dev
REF_OPERATOR=localhost/jobchannel/operator:dev
REF_PAUSE=localhost/jobchannel/pause:3.10
REF_COREDNS=localhost/jobchannel/coredns:1.14.7
REF_REDIS=localhost/jobchannel/redis:7
REF_PRIME_COUNT=localhost/jobchannel/prime-count:dev

# image_ref NAME : prints the reference of the image NAME; status 1 for a name it does not know.
image_ref() {
  case "$1" in
    relay) echo "$REF_RELAY" ;;
    worker) echo "$REF_WORKER" ;;
    operator) echo "$REF_OPERATOR" ;;
    pause) echo "$REF_PAUSE" ;;
    coredns) echo "$REF_COREDNS" ;;
    redis) echo "$REF_REDIS" ;;
    prime-count) echo "$REF_PRIME_COUNT" ;;
    *) return 1 ;;
  esac
}

SOURCE_URL=https://github.com/jobchannel/jobchannel

# A CA bundle npm trusts inside the builds (the build secret `ca` of the Dockerfiles), for
# networks behind a TLS-intercepting proxy. @default $NODE_EXTRA_CA_CERTS when set
BUILD_CA="${IMAGES_BUILD_CA-${NODE_EXTRA_CA_CERTS:-}}"

# The Redis image: Debian's redis-server on a Debian bookworm base. REDIS_SETUP runs as root in
# the base (sh -eu). The user comes first, with fixed IDs: the package's maintainer script keeps an
# existing redis user. policy-rc.d keeps the maintainer scripts from starting the service.
REDIS_SETUP='
groupadd --system --gid 999 redis
useradd --system --uid 999 --gid 999 --home-dir /var/lib/redis --shell /usr/sbin/nologin redis
printf "#!/bin/sh\nexit 101\n" >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
rm -rf /usr/sbin/policy-rc.d /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
mkdir -p /data
chown redis:redis /data
redis-server --version
'
# No persistence (the tests start from empty data) and no protected mode (the Service is the
# boundary); /data is the working directory, as in the Docker Official Image. The command is the
# image's Cmd (no entrypoint), so a pod's command or args replaces it whole.
REDIS_USER=999:999
REDIS_WORKDIR=/data
REDIS_PORT=6379
REDIS_CMD='["redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no"]'
REDIS_TITLE=jobchannel-redis
REDIS_DESCRIPTION="Debian's redis-server for jobchannel's test clusters: no persistence, not protected"
