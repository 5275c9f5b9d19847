#!/usr/bin/env bash
# Starts or stops the CORS proxy (nginx) that sits between a browser page and a local
# S3-compatible server, for the web page's tests.
#
#   cors-proxy.sh start --dir DIR --port PORT --s3-port S3PORT --origin ORIGIN
#                       [--tls-port TLSPORT --cert PEM --key PEM]
#   cors-proxy.sh stop  --dir DIR
#   cors-proxy.sh status --dir DIR
#
# DIR        run directory (created): config, pid, logs and temp files all live there
# PORT       the proxy listens on 127.0.0.1:PORT (the endpoint URL the page uses)
# S3PORT     the S3 server listens on 127.0.0.1:S3PORT
# ORIGIN     the page's origin, e.g. http://127.0.0.1:8080; '*' allows any origin.
#            Requests from other origins get no CORS headers (as a bucket without a rule).
# TLSPORT    also listen on 127.0.0.1:TLSPORT with TLS (certificate PEM and its key PEM),
#            same proxying; requests over TLS are logged to DIR/access-tls.log as well
#            (protocol, cipher, method, URI, status, x-amz-content-sha256).
# Environment: NGINX (default: nginx on PATH), EXPOSE_HEADERS (replaces the default list).
#
# nginx forks into the background and writes DIR/nginx.pid; stop sends it a signal through
# that pid file only, so only the proxy started here is ended.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
nginx="${NGINX:-nginx}"
expose="${EXPOSE_HEADERS:-ETag, x-amz-request-id, x-amz-id-2, x-amz-version-id, x-amz-delete-marker, x-amz-server-side-encryption, Content-Range, Content-Length, Content-Type, Accept-Ranges, Last-Modified}"

usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 1 ] || usage
cmd="$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')"; shift
dir="" port="" s3port="" origin="" tlsport="" cert="" key=""
while [ $# -gt 0 ]; do
    case "$1" in
        --dir) dir="$2"; shift 2 ;;
        --port) port="$2"; shift 2 ;;
        --s3-port) s3port="$2"; shift 2 ;;
        --origin) origin="$2"; shift 2 ;;
        --tls-port) tlsport="$2"; shift 2 ;;
        --cert) cert="$2"; shift 2 ;;
        --key) key="$2"; shift 2 ;;
        *) usage ;;
    esac
done
[ -n "$dir" ] || usage

command -v "$nginx" >/dev/null || {
    echo "cors-proxy: nginx not found (apt-get install -y nginx-light)" >&2; exit 1; }

pidfile="$dir/nginx.pid"
running() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "$cmd" in
start)
    [ -n "$port" ] && [ -n "$s3port" ] && [ -n "$origin" ] || usage
    if running; then echo "cors-proxy: already running (pid $(cat "$pidfile"))" >&2; exit 1; fi
    mkdir -p "$dir/tmp"
    dir="$(cd "$dir" && pwd)"
    pidfile="$dir/nginx.pid"

    # Every temp path of the modules this nginx was built with, inside DIR: nginx creates
    # them at start and fails on the compiled-in /var/lib/nginx paths without root.
    built="$("$nginx" -V 2>&1)"
    temp="    client_body_temp_path $dir/tmp/body;\n    proxy_temp_path $dir/tmp/proxy;"
    for m in fastcgi uwsgi scgi; do
        case "$built" in *"--without-http_${m}_module"*) ;;
            *) temp="$temp\n    ${m}_temp_path $dir/tmp/$m;" ;; esac
    done
    # As root, nginx runs its worker as 'nobody' unless told otherwise; that user could not
    # use DIR. As anyone else the directive is ignored (with a warning), so leave it out.
    if [ "$(id -u)" = 0 ]; then user_line="user $(id -un) $(id -gn);"; else user_line=""; fi
    if [ "$origin" = "*" ]; then origin_default='$http_origin'; else origin_default='""'; fi
    tls_listen=""
    if [ -n "$tlsport" ]; then
        [ -r "$cert" ] && [ -r "$key" ] || { echo "cors-proxy: --tls-port needs readable --cert and --key" >&2; exit 2; }
        cert="$(cd "$(dirname "$cert")" && pwd)/$(basename "$cert")"
        key="$(cd "$(dirname "$key")" && pwd)/$(basename "$key")"
        tls_listen="listen 127.0.0.1:$tlsport ssl;\n        ssl_certificate $cert;\n        ssl_certificate_key $key;\n        ssl_protocols TLSv1.2 TLSv1.3;"
        # A server-level access_log replaces the inherited one: name both.
        tls_listen="$tls_listen\n        access_log $dir/access.log;\n        access_log $dir/access-tls.log cse_tls if=\$https;"
    fi

    sed -e "s|@RUN_DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@S3_PORT@|$s3port|g" \
        -e "s|@ALLOW_ORIGIN@|$origin|g" -e "s|@ORIGIN_DEFAULT@|$origin_default|g" \
        -e "s|@USER_LINE@|$user_line|g" -e "s|@TEMP_PATHS@|$temp|g" \
        -e "s|@EXPOSE_HEADERS@|$expose|g" -e "s|@TLS_LISTEN@|$tls_listen|g" \
        "$here/nginx.conf.template" > "$dir/nginx.conf"

    # -e: nginx opens its error log before reading the config; -p: relative paths stay in DIR.
    "$nginx" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -t -q
    "$nginx" -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf"
    for _ in $(seq 50); do running && break; sleep 0.1; done
    running || { echo "cors-proxy: nginx did not start; $dir/error.log:" >&2; cat "$dir/error.log" >&2; exit 1; }
    tls_note=""; [ -z "$tlsport" ] || tls_note=", TLS on 127.0.0.1:$tlsport"
    echo "cors-proxy: 127.0.0.1:$port$tls_note -> 127.0.0.1:$s3port for origin $origin (pid $(cat "$pidfile"), logs in $dir)"
    ;;
stop)
    if running; then
        pid="$(cat "$pidfile")"
        kill -TERM "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
        echo "cors-proxy: stopped (pid $pid)"
    else
        echo "cors-proxy: not running"
    fi
    rm -f "$pidfile"
    ;;
status)
    if running; then echo "cors-proxy: running (pid $(cat "$pidfile"))"; else echo "cors-proxy: not running"; exit 1; fi
    ;;
*) usage ;;
esac
