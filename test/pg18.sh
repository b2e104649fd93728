# test/pg18.sh -- a PostgreSQL 18 built from source, cached outside the checkout.
#
# Debian 12 packages PostgreSQL 15 only; the tests also run against 18, built
# from the source tarball that CI provides beside the checkout
# ($GENIE_ROOT/../shared/pg/postgresql-18.3.tar.xz, or GENIE_PG18_TARBALL).
# A fresh clone has no such tarball: test/run-tests.sh then skips 18 (CI
# requires it; see there).
# The build is done once and cached in
#     ${GENIE_PG_CACHE:-/var/cache/genie_fdw}/pg-<version>-<first 12 hex of the tarball's sha256>
# and reused by every later run on the machine.  It is built in a temporary
# directory and installed into a staging directory beside the cache entry,
# which is then renamed into place: an interrupted build leaves no half cache
# entry (only a stale staging directory, removed by the next build).  A lock
# file keeps two runs from building at the same time.
#
# Sourced by test/lib.sh (genie_pg18_prefix sets PG18_PREFIX), or run as
# `bash test/pg18.sh` to build (if needed) and print the prefix.

# genie_pg18_tarball: print where PostgreSQL 18's source is looked for;
# true when it is there
genie_pg18_tarball() {
	local root
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	local tarball=${GENIE_PG18_TARBALL:-$root/../shared/pg/postgresql-18.3.tar.xz}
	echo "$tarball"
	[ -f "$tarball" ]
}

# genie_pg18_prefix: build PostgreSQL 18 if it is not cached; sets PG18_PREFIX
genie_pg18_prefix() {
	local tarball
	if ! tarball=$(genie_pg18_tarball); then
		echo "PostgreSQL 18 source not found at $tarball (set GENIE_PG18_TARBALL)" >&2
		return 1
	fi
	tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
	local base version sum
	base=$(basename "$tarball")
	version=${base#postgresql-}
	version=${version%.tar.*}
	sum=$(sha256sum "$tarball" | cut -c1-64)
	local sums
	sums=$(dirname "$tarball")/SHA256SUMS
	if [ -f "$sums" ] && grep -q " \*\?$base\$" "$sums" &&
		! grep " \*\?$base\$" "$sums" | grep -q "^$sum "; then
		echo "$tarball does not match its SHA256SUMS" >&2
		return 1
	fi
	local cache=${GENIE_PG_CACHE:-/var/cache/genie_fdw}
	PG18_PREFIX=$cache/pg-$version-${sum:0:12}
	if [ -x "$PG18_PREFIX/bin/pg_config" ]; then
		return 0
	fi
	mkdir -p "$cache"
	(
		# one build at a time; whoever waited finds the finished entry
		flock 9
		if [ -x "$PG18_PREFIX/bin/pg_config" ]; then
			exit 0
		fi
		local dep missing=()
		for dep in bison flex zlib1g-dev make gcc; do
			dpkg -s "$dep" >/dev/null 2>&1 || missing+=("$dep")
		done
		if [ ${#missing[@]} -gt 0 ]; then
			echo "building PostgreSQL $version needs: ${missing[*]} (apt-get install them)" >&2
			exit 1
		fi
		rm -rf "$cache"/.staging-pg-"$version"-*
		local build staging
		build=$(mktemp -d /tmp/genie-pg-build.XXXXXX)
		staging=$(mktemp -d "$cache/.staging-pg-$version-XXXXXX")
		trap 'rm -rf "$build" "$staging"' EXIT
		echo "==> building PostgreSQL $version into $PG18_PREFIX (once; log in $build/build.log)" >&2
		local start=$SECONDS
		if ! (
			set -e
			tar xJf "$tarball" -C "$build"
			cd "$build/postgresql-$version"
			sh ./configure --prefix="$PG18_PREFIX" --without-icu --without-readline
			make -j"$(nproc)" -s
			make -s install DESTDIR="$staging"
		) >"$build/build.log" 2>&1; then
			tail -n 40 "$build/build.log" >&2
			echo "building PostgreSQL $version failed" >&2
			exit 1
		fi
		# the server runs as postgres: the tree must be readable by it
		chmod -R a+rX "$staging$PG18_PREFIX"
		mv "$staging$PG18_PREFIX" "$PG18_PREFIX"
		echo "==> PostgreSQL $version built in $((SECONDS - start)) s" >&2
	) 9>"$cache/.pg-$version.lock"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	genie_pg18_prefix
	echo "$PG18_PREFIX"
fi
