# Sourced by the *-build.sh scripts of the builder stages.
#
# debian_source PACKAGE BUILD-DEPENDENCY...
#   adds deb-src entries for the base's Debian release (with -updates and
#   -security, so fixes arrive with each rebuild), installs a C toolchain and the
#   given build dependencies, then fetches PACKAGE's source, unpacks it with
#   Debian's patches applied and changes into it.
debian_source() {
  package=$1
  shift
  . /etc/os-release
  mirror=http://deb.debian.org/debian
  printf 'deb-src %s %s main\ndeb-src %s %s-updates main\ndeb-src http://deb.debian.org/debian-security %s-security main\n' \
    "$mirror" "$VERSION_CODENAME" "$mirror" "$VERSION_CODENAME" "$VERSION_CODENAME" \
    > /etc/apt/sources.list.d/musicdl-src.list
  apt-get update
  apt-get install -y --no-install-recommends dpkg-dev gcc libc6-dev make pkgconf xz-utils "$@"
  mkdir -p "/usr/src/$package"
  cd "/usr/src/$package"
  apt-get source "$package"
  cd "$package"-*/
}
