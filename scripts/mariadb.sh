#!/usr/bin/env bash
# Starts Debian's MariaDB on loopback (installing it on first use) with a user the tests
# may create databases with, and prints that user's URI (without a database: tests append
# one). Prints nothing when MariaDB can be neither found nor installed here (then the
# MySQL tests skip, except under CI).
set -euo pipefail
if ! command -v mariadbd >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing MariaDB (first run only)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server) >&2
  else
    exit 0
  fi
fi
as_root() { mariadb -uroot --protocol=socket -Nse "$1"; }
# TLS with Debian's snakeoil certificate (from ssl-cert, which PostgreSQL brings too), so
# that the tests can ask for it.
tls_conf=/etc/mysql/mariadb.conf.d/90-ferroflow-tls.cnf
if [ "$(id -u)" = 0 ] && [ -r /etc/ssl/private/ssl-cert-snakeoil.key ] && [ ! -f "$tls_conf" ]; then
  usermod -a -G ssl-cert mysql >&2 || true
  printf '[mariadbd]\nssl-cert = /etc/ssl/certs/ssl-cert-snakeoil.pem\nssl-key = /etc/ssl/private/ssl-cert-snakeoil.key\n' >"$tls_conf"
  if as_root "SELECT 1" >/dev/null 2>&1; then
    /etc/init.d/mariadb stop >&2 || true
  fi
fi
if ! as_root "SELECT 1" >/dev/null 2>&1; then
  # Debian's init script starts mariadbd_safe on the socket and 127.0.0.1:3306 (50-server.cnf).
  /etc/init.d/mariadb start >&2 || service mariadb start >&2
  for _ in $(seq 1 100); do
    as_root "SELECT 1" >/dev/null 2>&1 && break
    sleep 0.2
  done
fi
as_root "CREATE USER IF NOT EXISTS 'ferroflow'@'127.0.0.1' IDENTIFIED BY 'ferroflow';
         CREATE USER IF NOT EXISTS 'ferroflow'@'localhost' IDENTIFIED BY 'ferroflow';
         GRANT ALL PRIVILEGES ON *.* TO 'ferroflow'@'127.0.0.1' WITH GRANT OPTION;
         GRANT ALL PRIVILEGES ON *.* TO 'ferroflow'@'localhost' WITH GRANT OPTION;" >&2
port=$(as_root "SELECT @@port")
echo "mysql://ferroflow:ferroflow@127.0.0.1:$port"
