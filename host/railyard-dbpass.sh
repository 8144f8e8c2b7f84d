#!/usr/bin/env bash
# railyard-dbpass: check that a password opens a railyard database over the network the apps use, or set the
# database user's password to a new one in the running database. The password comes on stdin, never an argument.
set -euo pipefail
RAILYARD_SCRIPT=railyard-dbpass
# The shared library lives beside the script (or was fed before it on stdin).
# (Its folder without `dirname`: the script must reach its own checks on a PATH without coreutils.)
if ! declare -F railyard_lib >/dev/null; then
  railyard_dir=${BASH_SOURCE[0]%/*}
  [ "$railyard_dir" != "${BASH_SOURCE[0]}" ] || railyard_dir=.
  # shellcheck source=host/railyard-lib.sh
  source "$railyard_dir/railyard-lib.sh"
fi

usage() {
  cat <<'USAGE'
Usage: railyard-dbpass.sh --check  --service NAME --engine ENGINE --user USER --database DB --network NET
                                   [--name ENTRY] [--timeout SECONDS]   < password
       railyard-dbpass.sh --rotate --service NAME --engine ENGINE --user USER --database DB
                                   [--name ENTRY] [--with-current] [--skip-missing]   < new password [+ current]

--check: signs in as USER to the database of Swarm service NAME from a one-off container of the service's own
image (its client; pulled when its task runs on another node and the image is not here) on network NET, by the service's DNS name, as the apps do (not the server's local trust),
with the password on stdin. Connection errors are retried for SECONDS (default 60). Nothing is changed.

--rotate: sets USER's password to the one on stdin inside the running task of NAME, signed in with the task's
current credentials: its mounted Swarm secret (/run/secrets/railyard_db_password; postgres: the image's local
trust too). A task on another node of the swarm: from a one-off Swarm job of its image pinned to this node, with
the secret its service mounts and its network, by its service name over the overlay (no local trust there). With --with-current, a second line of stdin holds the password the database has now instead (after
a drift on mysql or mongo, whose task then holds the new one). When those credentials no longer open it but the
new password does (an earlier run set it), it is left as it is. postgres: ALTER ROLE (statement logging off for
it); mysql: ALTER USER for USER@'%' and root (root shares the password); redis: CONFIG SET requirepass (the
next start reads the secret again); mongo: changeUserPassword. Connections already open stay open; new ones with
the old password fail from then on. With --skip-missing a service that does not exist yet is not an error (its
first start sets the password).

Arguments: NAME and NET Swarm names (lower-case letters, digits and inner hyphens, at most 63, starting with a
letter); ENGINE postgres, mysql, mongo or redis; USER and DB lower-case names (a-z, 0-9, _; at most 63);
ENTRY the stack file's database name (for messages; default: NAME); SECONDS 1 to 3600. The password: one line
of 16 to 128 printable ASCII characters other than space, quotes, backslash and backtick (the current one of
--with-current: any one line). Nothing secret is printed.

Exit codes:
  0   --check: the password opens the database; --rotate: the password is set (or already was, or
      --skip-missing and no service)
  2   bad arguments or password (nothing is changed)
  20  no service NAME, or no running task of it on any node (--rotate: also when the job for a task on
      another node cannot run or start in 40 s, within the 60 s railyard gives the rotation) (nothing is changed)
  50  --check: the password does not open the database (the message says the ways out)
  51  --check: the database did not answer within SECONDS
  52  --rotate: neither the current credentials nor the new password open the database (nothing is changed)
  53  --rotate: the change failed
USAGE
}

SECRET=/run/secrets/railyard_db_password
# The engine's error when a password is refused.
declare -A AUTH_FAILED=(
  [postgres]='password authentication failed'
  [mysql]='Access denied'
  [redis]='WRONGPASS|NOAUTH|AUTH failed|invalid password'
  [mongo]='Authentication failed'
)
# A password railyard sets: what config/passwords.ts accepts.
PASSWORD_RE='^[]!#$%&()*+,./0-9:;<=>?@A-Z[^_a-z{|}~-]{16,128}$'

mode="" service="" engine="" user="" database="" network="" name="" timeout_s=60 with_current=0 skip_missing=0
password="" current=""

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --check) mode=check; shift ;;
      --rotate) mode=rotate; shift ;;
      --service) opt_value service "$@"; shift 2 ;;
      --engine) opt_value engine "$@"; shift 2 ;;
      --user) opt_value user "$@"; shift 2 ;;
      --database) opt_value database "$@"; shift 2 ;;
      --network) opt_value network "$@"; shift 2 ;;
      --name) opt_value name "$@"; shift 2 ;;
      --timeout) opt_value timeout_s "$@"; shift 2 ;;
      --with-current) with_current=1; shift ;;
      --skip-missing) skip_missing=1; shift ;;
      -h|--help) usage; exit 0 ;;
      *) unknown_argument "$1" ;;
    esac
  done
  [ -n "$mode" ] || fail 2 "--check or --rotate is required"
  check_database
  [[ -v "AUTH_FAILED[$engine]" ]] || fail 2 "--engine must be postgres, mysql, mongo or redis, got $(q "$engine")"
  if [ "$mode" = check ]; then
    check --network "$network" "a lower-case name (a Swarm network name: a-z, 0-9, inner -, at most 63)" is_name
    check --timeout "$timeout_s" "1 to 3600 seconds" is_int_in 1 3600
    [ "$with_current$skip_missing" = 00 ] || fail 2 "--with-current and --skip-missing go with --rotate"
  else
    [ -z "$network" ] || fail 2 "--network goes with --check"
  fi
  [ -z "$name" ] || check --name "$name" "a stack file database name (a-z, 0-9, inner -, at most 63)" is_name
  : "${name:=$service}"
  read_passwords
}

# The password (and, with --with-current, the current one) from stdin, checked before anything runs.
read_passwords() {
  IFS= read -r password || [ -n "$password" ] || fail 2 "the password must come on stdin (one line); got nothing"
  [[ $password =~ $PASSWORD_RE ]] ||
    fail 2 "the password on stdin must be 16 to 128 printable ASCII characters other than space, quotes, backslash and backtick (got ${#password} characters; value hidden)"
  if [ "$with_current" = 1 ]; then
    IFS= read -r current || [ -n "$current" ] || fail 2 "--with-current: the current password must come on the second line of stdin; got nothing"
    [[ -n $current && ! $current =~ [[:cntrl:]] ]] || fail 2 "--with-current: the current password must be one line without control characters (value hidden)"
  fi
}

# The engine's client, run by `sh -c` in the database's image: $1 host, $2 user, $3 database; the password is
# the first line of stdin. Prints railyard-ok when it signed in.
# The commands run in the container: their $(…) and "$1" are meant for its shell, not this one.
# shellcheck disable=SC2016
check_client() {
  local read_pw='IFS= read -r pw; '
  case "$engine" in
    postgres) echo "$read_pw"'PGPASSWORD=$pw PGCONNECT_TIMEOUT=5 exec psql -X -w -h "$1" -U "$2" -d "$3" -tAc "select '"'railyard-ok'"'"' ;;
    mysql) echo "$read_pw"'c=$(command -v mysql || command -v mariadb); MYSQL_PWD=$pw exec "$c" --connect-timeout=5 -h "$1" -u "$2" -N -B -e "select '"'railyard-ok'"'" "$3"' ;;
    redis) echo "$read_pw"'REDISCLI_AUTH=$pw redis-cli --no-auth-warning -h "$1" ping | sed "s/^PONG$/railyard-ok/"' ;;
    mongo) echo "$read_pw"'PW=$pw U=$2 H=$1 exec mongosh --quiet --norc --nodb --eval '"'"'const c = connect("mongodb://" + encodeURIComponent(process.env.U) + ":" + encodeURIComponent(process.env.PW) + "@" + process.env.H + ":27017/admin?authSource=admin"); if (c.runCommand({ ping: 1 }).ok) print("railyard-ok")'"'" ;;
  esac
}

# The change, run by `sh -c` inside the running task: $1 user, $2 database; stdin: the new password, then the
# current one (empty: the task's mounted secret). Prints railyard-ok when done.
# shellcheck disable=SC2016
rotate_client() {
  local read_pw='IFS= read -r new; cur=; IFS= read -r cur || true; [ -n "$cur" ] || cur=$(cat '"$SECRET"'); '
  case "$engine" in
    postgres) echo "$read_pw"'PGPASSWORD=$cur psql -X -w -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$1" -d "$2" <<SQL && echo railyard-ok
BEGIN;
SET LOCAL log_statement = '"'none'"';
SET LOCAL log_min_error_statement = '"'panic'"';
ALTER ROLE "$1" PASSWORD '"'"'$new'"'"';
COMMIT;
SQL' ;;
    mysql) echo "$read_pw"'c=$(command -v mysql || command -v mariadb); MYSQL_PWD=$cur "$c" -u root <<SQL && echo railyard-ok
ALTER USER '"'"'$1'"'"'@'"'"'%'"'"' IDENTIFIED BY '"'"'$new'"'"';
ALTER USER IF EXISTS '"'"'root'"'"'@'"'"'%'"'"' IDENTIFIED BY '"'"'$new'"'"';
ALTER USER IF EXISTS '"'"'root'"'"'@'"'"'localhost'"'"' IDENTIFIED BY '"'"'$new'"'"';
SQL' ;;
    redis) echo "$read_pw"'printf "%s" "$new" | REDISCLI_AUTH=$cur redis-cli --no-auth-warning -h 127.0.0.1 -x CONFIG SET requirepass | sed "s/^OK$/railyard-ok/"' ;;
    mongo) echo "$read_pw"'NEWPW=$new CURPW=$cur U=$1 exec mongosh --quiet --norc --nodb --eval '"'"'const c = connect("mongodb://" + encodeURIComponent(process.env.U) + ":" + encodeURIComponent(process.env.CURPW) + "@127.0.0.1:27017/admin?authSource=admin"); c.changeUserPassword(process.env.U, process.env.NEWPW); print("railyard-ok")'"'" ;;
  esac
}

# hide TEXT: TEXT with the passwords replaced, so no output of a client can print one.
hide() {
  local text=$1
  text=${text//"$password"/<password>}
  [ -z "$current" ] || text=${text//"$current"/<current password>}
  printf '%s' "$text"
}

running_container() {
  docker ps --quiet --filter "label=com.docker.swarm.service.name=$service" --filter status=running | head -n 1
}

# How to leave a drift, for this engine.
ways_out() {
  local here=${BASH_SOURCE[0]:-railyard-dbpass.sh} how
  if [ "$engine" = postgres ]; then
    how="the task's local trust signs in"
  else
    how="add --with-current and put the old password on a second line of stdin: the task holds only the new one"
  fi
  cat <<EOF
Its volume keeps the password it was first started with; a lost or recreated Pulumi state (or the stack deployed
again over its kept volume) made railyard hold another. Nothing that uses the database was updated. Either:
  1. give railyard the password the volume has, then run pulumi up again:
       pulumi config set --secret --path 'railyard:secrets.<NAME>' '<the old password>'
       and in the stack file: railyard:databases.$name.passwordSecret: <NAME>
  2. or set the volume to the password railyard holds now (its running task has it mounted), then pulumi up:
       docker exec "\$(docker ps -q -f label=com.docker.swarm.service.name=$service | head -n 1)" cat $SECRET |
         bash $here --rotate --service $service --engine $engine --user $user --database $database
       ($how)
EOF
}

check_password() {
  local container image deadline out rc
  service_field "$service" '{{.ID}}' >/dev/null || fail 20 "database $name: no service $service"
  container=$(running_container)
  if [ -n "$container" ]; then
    image=$(docker inspect --format '{{.Image}}' "$container")
  else
    # Its task runs on another node: the client comes from the service's image (the check goes over the network).
    [ -n "$(running_task_node "$service")" ] || fail 20 "database $name: no running task of $service on any node"
    image=$(service_field "$service" '{{.Spec.TaskTemplate.ContainerSpec.Image}}')
  fi
  deadline=$((SECONDS + timeout_s))
  while :; do
    rc=0
    out=$(printf '%s\n' "$password" | docker run --rm -i --network "$network" --label railyard.role=dbpass-check \
      --entrypoint sh "$image" -c "$(check_client)" sh "$service" "$user" "$database" 2>&1) || rc=$?
    if [ "$rc" = 0 ] && [[ $out == *railyard-ok* ]]; then
      echo "railyard-dbpass: database $name: the password railyard holds opens $service as $user over $network" >&2
      exit 0
    fi
    if [[ $out =~ ${AUTH_FAILED[$engine]} ]]; then
      {
        echo "railyard-dbpass: database $name (Swarm service $service): the password railyard holds (railyard:databases.$name.passwordSecret, or the generated one) does not open it as $user over the network:"
        hide "$out" | tail -n 3
        echo
        ways_out
      } >&2
      exit 50
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "railyard-dbpass: database $name: $service did not answer within ${timeout_s}s:" >&2
      hide "$out" | tail -n 5 >&2
      echo >&2
      exit 51
    fi
    sleep 1
  done
}

# run_rotate CURRENT: runs the change signed in with CURRENT (empty: the task's mounted secret); sets out.
# In the rotation job (a database on another node) the client reaches the database by its service name.
run_rotate() {
  local rc=0 client
  client=$(rotate_client)
  if [ "$db_host" != 127.0.0.1 ]; then
    client=${client//127.0.0.1/$db_host}
    client=${client//-u root <<SQL/-h $db_host --protocol=tcp -u root <<SQL}
  fi
  out=$(printf '%s\n%s\n' "$password" "$1" | docker exec -i "$container" sh -c "$client" sh "$user" "$database" 2>&1) || rc=$?
  [ "$rc" = 0 ] && [[ $out == *railyard-ok* ]]
}

# The database's task runs on NODE: the change runs in a one-off Swarm job of its own image on this node, with the
# password secret its service mounts now (the current one) and its network; removed on exit. Sets container.
db_host=127.0.0.1 rotate_job=""
remote_rotation() {
  local rc=0
  trap 'rotate_job_remove' EXIT
  # 40 s: railyard runs the rotation under `timeout 60` (commands/password.ts), and this failure must be the one seen.
  db_job_waiting dbpass "$service" 600 40 || rc=$?
  rotate_job=$db_job_name
  [ "$rc" != 1 ] ||
    fail 20 "database $name: its task runs on node $1, and a job on this node to change the password cannot run: $db_job_error; the password is not changed"
  [ "$rc" != 2 ] ||
    fail 20 "database $name: its task runs on node $1, and the job on this node to change the password did not start within 40 s (is its image on this node? docker pull it here); the password is not changed"
  container=$db_job_container
  db_host=$service
  echo "railyard-dbpass: database $name: its task runs on node $1: changing the password from a job on this node ($rotate_job), over the overlay network" >&2
}

rotate_job_remove() { [ -z "$rotate_job" ] || db_job_remove "$rotate_job"; }

container="" out=""
rotate_password() {
  if ! service_field "$service" '{{.ID}}' >/dev/null; then
    [ "$skip_missing" = 1 ] || fail 20 "database $name: no service $service"
    echo "railyard-dbpass: database $name: no service $service yet; its first start sets the password" >&2
    exit 0
  fi
  container=$(running_container)
  if [ -z "$container" ]; then
    local node
    node=$(running_task_node "$service")
    [ -n "$node" ] || fail 20 "database $name: no running task of $service on this node; the password is not changed"
    remote_rotation "$node"
  fi
  if run_rotate "$current"; then
    echo "railyard-dbpass: database $name: the password of $user is set (connections open before stay open)" >&2
    exit 0
  fi
  if [[ $out =~ ${AUTH_FAILED[$engine]} ]] && run_rotate "$password"; then
    echo "railyard-dbpass: database $name: the new password already opened it (an earlier run set it); it is kept" >&2
    exit 0
  fi
  if [[ $out =~ ${AUTH_FAILED[$engine]} ]]; then
    echo "railyard-dbpass: database $name: neither $([ "$with_current" = 1 ] && echo "the current password on stdin" || echo "the task's mounted secret") nor the new password opens $service; nothing is changed:" >&2
    hide "$out" | tail -n 3 >&2
    echo >&2
    exit 52
  fi
  echo "railyard-dbpass: database $name: the change failed:" >&2
  hide "$out" | tail -n 5 >&2
  echo >&2
  exit 53
}

main() {
  parse_args "$@"
  if [ "$mode" = check ]; then check_password; else rotate_password; fi
}

# Run unless sourced (tests source the script for its functions). Fed on stdin (`bash -s`) BASH_SOURCE is empty.
if [[ -z "${BASH_SOURCE[0]:-}" || "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
