#!/bin/sh
# Builds aria2c from Debian's own (patched) aria2 source into PREFIX/bin, for
# yt-dlp's external downloader. Debian's binary package links libxml2 (and so
# ICU, 36 MB) for Metalink, which musicdl never uses; this build keeps HTTP(S)
# with OpenSSL and zlib, both already in the base image.
set -eu
PREFIX=${1:?usage: aria2-build.sh PREFIX}
. "$(dirname "$0")/debian-source.sh"
debian_source aria2 g++ libssl-dev zlib1g-dev

./configure \
  --prefix="$PREFIX" \
  --with-openssl --without-gnutls --without-libnettle --without-libgmp --without-libgcrypt \
  --without-libxml2 --without-libexpat --without-sqlite3 --without-libssh2 --without-libcares \
  --without-libuv --with-libz \
  --disable-nls --disable-bittorrent --disable-metalink --disable-websocket \
  ARIA2_STATIC=no
make -j"$(nproc)"
install -D -s src/aria2c "$PREFIX/bin/aria2c"
"$PREFIX/bin/aria2c" --version | head -n 1
