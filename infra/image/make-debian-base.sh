#!/usr/bin/env bash
# Makes the two Python base images the Containerfile needs from Debian's packages, for machines
# that cannot pull base images (only package registries are reachable there):
#
#   localhost/honeycomb-evaluator-base:builder   python3 + python3-venv (pip comes from ensurepip)
#   localhost/honeycomb-evaluator-base:runtime   python3 only, without apt, docs or locales
#
# Usage: make-debian-base.sh CACHE_DIR  (buildah's storage options come from BUILDAH_FLAGS)
#
# The debootstrapped root filesystem is kept in CACHE_DIR/rootfs-<suite>, so only the first run
# downloads packages. Needs root, debootstrap and buildah (the Makefile installs both with apt).
set -euo pipefail

cache=${1:?usage: $0 CACHE_DIR}
# trixie's python3 is 3.13, the version of the default base (python:3.13-slim) and of Lambda.
suite=${DEBIAN_SUITE:-trixie}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
buildah=(buildah ${BUILDAH_FLAGS:-})
rootfs=$cache/rootfs-$suite

mkdir -p "$cache"
if [ ! -e "$rootfs/.complete" ]; then
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$suite" "$rootfs" "$mirror"
  touch "$rootfs/.complete"
fi

# commit_rootfs NAME DIR: a single-layer image of DIR's contents.
commit_rootfs() {
  local container
  container=$("${buildah[@]}" from scratch)
  "${buildah[@]}" copy --quiet "$container" "$2" / >/dev/null
  "${buildah[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd python3 "$container"
  "${buildah[@]}" commit --quiet --rm "$container" "$1" >/dev/null
  echo "$1"
}

# Made once per debootstrap: the images are rebuilt only when the cached root filesystem is.
if "${buildah[@]}" inspect --type image localhost/honeycomb-evaluator-base:builder >/dev/null 2>&1 &&
  "${buildah[@]}" inspect --type image localhost/honeycomb-evaluator-base:runtime >/dev/null 2>&1 &&
  [ "$rootfs/.complete" -ot "$cache/.bases-made" ]; then
  echo "bases up to date (rm $cache/.bases-made to remake them)"
  exit 0
fi

# slim DIR: what no image needs; the storage driver (vfs) copies every byte once per layer.
slim() {
  rm -rf "$1"/usr/share/{doc,man,info,locale,lintian} "$1"/var/cache/* "$1"/var/lib/apt/lists/* "$1"/var/log/*
}

scratch=$(mktemp -d "$cache/base.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# The builder fetches wheels from PyPI, so it trusts the CAs this machine trusts (a machine
# behind an inspecting egress proxy adds its CA to the system bundle).
cp -a "$rootfs/." "$scratch/builder"
rm -f "$scratch/builder/.complete"
cp /etc/ssl/certs/ca-certificates.crt "$scratch/builder/etc/ssl/certs/ca-certificates.crt"
slim "$scratch/builder"
commit_rootfs localhost/honeycomb-evaluator-base:builder "$scratch/builder"

# The runtime base holds what python:3.13-slim's users rely on at run time and nothing to
# install with: no apt, no pip wheels, no documentation.
cp -a "$rootfs/." "$scratch/runtime"
rm -f "$scratch/runtime/.complete"
chroot "$scratch/runtime" dpkg --purge python3-venv python3.13-venv python3-pip-whl python3-setuptools-whl
chroot "$scratch/runtime" dpkg --purge apt
slim "$scratch/runtime"
commit_rootfs localhost/honeycomb-evaluator-base:runtime "$scratch/runtime"
touch "$cache/.bases-made"
