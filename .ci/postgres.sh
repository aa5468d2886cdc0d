# Sourced by .ci/run: install Debian's PostgreSQL if missing, start a throwaway server on
# 127.0.0.1, export TAP_HAPPYTALK_TEST_POSTGRES, and stop it when the calling shell exits.
# The server's time zone is Korea's, not UTC, so the tests prove that nothing loaded or
# modelled depends on it (meltano.yml runs target-postgres in a UTC session).

if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
pg_bin=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_root=$(mktemp -d /tmp/tap-happytalk-postgres.XXXXXX)
pg_port=${TAP_HAPPYTALK_TEST_POSTGRES_PORT:-55432}
chown postgres: "$pg_root"
runuser -u postgres -- "$pg_bin/initdb" -D "$pg_root/data" -U postgres --auth=trust \
  --encoding=UTF8 --locale=C.UTF-8 >/dev/null
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_root/data" -l "$pg_root/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_root -c timezone=Asia/Seoul" start >/dev/null
runuser -u postgres -- "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres warehouse

stop_postgres() {
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_root/data" -m fast -w stop >/dev/null || true
  rm -rf "$pg_root"
}
trap stop_postgres EXIT

export TAP_HAPPYTALK_TEST_POSTGRES="postgresql://postgres@127.0.0.1:$pg_port/warehouse"
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"
