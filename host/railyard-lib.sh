# shellcheck shell=bash
# railyard-lib: what the railyard host scripts share — failing with a code, the argument loop's value-taking
# options, the checks every argument passes before anything runs, and values made safe for messages.
# Each script sources it from its own folder; over SSH the bootstrap is fed on stdin with this library before
# it (`bash -s`), and a script finds these functions already defined there.

# Marks the library as loaded.
railyard_lib() { :; }

# q VALUE: VALUE escaped for a terminal (printf %q: control characters come out as $'\n', \e… never raw).
q() { printf '%q' "$1"; }

# fail CODE MESSAGE...: "<script>: MESSAGE" on stderr, then exit CODE. RAILYARD_SCRIPT names the script.
# MESSAGE is kept in RAILYARD_FAILURE for an EXIT trap (a release's failure record says why).
fail() {
  local code=$1
  shift
  # shellcheck disable=SC2034  # read by the caller's EXIT trap
  RAILYARD_FAILURE="$*"
  printf '%s: %s\n' "${RAILYARD_SCRIPT:-railyard}" "$*" >&2
  exit "$code"
}

# opt_value VAR "$@": in an argument loop standing on an option ($1 of the loop), sets VAR to the option's value,
# or fails (exit 2) naming the option when there is none. The loop then shifts 2.
opt_value() {
  [ $# -ge 3 ] || fail 2 "$2 needs a value"
  printf -v "$1" '%s' "$3"
}

# unknown_argument ARG: the usage on stderr, then exit 2 naming ARG (escaped).
unknown_argument() {
  usage >&2
  fail 2 "unknown argument: $(q "$1")"
}

# check OPTION VALUE WHAT TEST [ARGS...]: fails (exit 2) with "OPTION must be WHAT, got VALUE" unless
# `TEST ARGS... VALUE` succeeds.
check() {
  local option=$1 value=$2 what=$3
  shift 3
  "$@" "$value" || fail 2 "$option must be $what, got $(q "$value")"
}

# check_database: the options every script about one database takes, read from the caller's $service (a Swarm
# service name), $user and $database (the engine's own names: lower-case letters, digits and _).
check_database() {
  # shellcheck disable=SC2154  # the caller's options
  check --service "$service" "a lower-case name (a Swarm service name: a-z, 0-9, inner -, at most 63)" is_name
  # shellcheck disable=SC2154
  check --user "$user" "a lower-case name (a-z, 0-9, _; at most 63)" matches '^[a-z_][a-z0-9_]{0,62}$'
  # shellcheck disable=SC2154
  check --database "$database" "a lower-case name (a-z, 0-9, _; at most 63)" matches '^[a-z0-9_]{1,63}$'
}

# matches REGEX VALUE: VALUE matches the extended regular expression.
matches() { [[ $2 =~ $1 ]]; }

# is_int_in MIN MAX VALUE: a whole number from MIN to MAX, written without sign or leading zeros.
is_int_in() { [[ $3 =~ ^(0|[1-9][0-9]{0,9})$ ]] && (($3 >= $1 && $3 <= $2)); }

is_port() { is_int_in 1 65535 "$1"; }

# is_seconds VALUE: a duration in seconds above 0, at most 99999, with up to 3 decimals (0.5, 5, 2.25).
is_seconds() { [[ $1 =~ ^(0|[1-9][0-9]{0,4})(\.[0-9]{1,3})?$ && $1 =~ [1-9] ]]; }

# is_name VALUE: a Swarm service, network or stack name as railyard makes them: a DNS label (at most 63
# characters, letters, digits and inner hyphens), lower-case, starting with a letter.
is_name() { [[ $1 =~ ^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$ ]]; }

# is_domain VALUE: a lower-case DNS name (labels as above, digits allowed first), at most 253 characters.
is_domain() {
  local label='[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'
  [[ ${#1} -le 253 && $1 =~ ^$label(\.$label)*$ ]]
}

# is_abs_path VALUE: an absolute path of plain characters (letters, digits, . _ -) without `..`.
is_abs_path() {
  [[ ${#1} -le 1024 && $1 =~ ^/([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?/?$ && ! $1 =~ (^|/)\.\.(/|$) ]]
}

# is_http_path VALUE: an HTTP path with an optional query, of characters that need no quoting.
is_http_path() {
  local re='^/[A-Za-z0-9._~%/?=&-]*$'
  [[ ${#1} -le 2048 && $1 =~ $re ]]
}

# is_ipv4 VALUE: a dotted-quad IPv4 address, each octet 0 to 255 without leading zeros.
is_ipv4() {
  local o='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
  [[ $1 =~ ^$o\.$o\.$o\.$o$ ]]
}

# is_label_list VALUE: data, edge and app, comma-separated, at least one, each once.
is_label_list() {
  [[ $1 =~ ^(data|edge|app)(,(data|edge|app))*$ ]] || return 1
  local seen="" l labels_in
  IFS=, read -ra labels_in <<<"$1"
  for l in "${labels_in[@]}"; do
    [[ ,$seen, != *",$l,"* ]] || return 1
    seen+=",$l"
  done
}

# is_ipv6 VALUE: an IPv6 address literal (eight groups, or fewer with one `::`; an IPv4 tail counts as two).
is_ipv6() {
  local a=$1 g='[0-9A-Fa-f]{1,4}' rest colons
  if [[ $a == *.* ]]; then
    [[ $a == *:* ]] && is_ipv4 "${a##*:}" || return 1
    a="${a%:*}:0:0"
  fi
  local full="^$g(:$g){7}\$" compressed="^($g(:$g)*)?::($g(:$g)*)?\$"
  [[ $a =~ $full ]] && return 0
  [[ $a =~ $compressed ]] || return 1
  # `::` stands for at least one group: at most seven others.
  rest=${a/::/:}
  rest=${rest#:}
  rest=${rest%:}
  colons=${rest//[!:]/}
  [ -z "$rest" ] || [ "${#colons}" -lt 7 ]
}

is_ip() { is_ipv4 "$1" || is_ipv6 "$1"; }

# is_image VALUE: an image reference [registry[:port]/]path[:tag][@digest], the registry's port in range.
is_image() {
  local c='[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*' d='[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?'
  local re="^($d(\\.$d)*(:[0-9]+)?/)?$c(/$c)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@[a-z0-9]+([+._-][a-z0-9]+)*:[0-9a-fA-F]{32,})?\$"
  [[ ${#1} -le 512 && $1 =~ $re ]] || return 1
  # Only a registry (before the first /) can hold a colon before a slash: its port.
  local first=${1%%/*}
  [[ $1 != */* || $first != *:* ]] || is_port "${first##*:}"
}

# split_url URL: sets url_scheme, url_host (an IPv6 address in brackets), url_port (the scheme's default when
# absent) and url_path ("/" when absent); fails unless URL is http(s)://HOST[:PORT][/PATH] with a DNS name or IP
# address as HOST, PORT 1 to 65535 and PATH as is_http_path accepts it.
# shellcheck disable=SC2034  # url_* are what the caller reads
split_url() {
  local re='^(https?)://([^/]+)(/.*)?$' v6='^\[([^]]*)\](:(.*))?$' v4='^([^:]*)(:(.*))?$' colon port
  [[ $1 =~ $re ]] || return 1
  url_scheme=${BASH_REMATCH[1]}
  url_path=${BASH_REMATCH[3]:-/}
  local hostport=${BASH_REMATCH[2]}
  if [[ $hostport =~ $v6 ]]; then
    url_host=${BASH_REMATCH[1]} colon=${BASH_REMATCH[2]} port=${BASH_REMATCH[3]}
    is_ipv6 "$url_host" || return 1
    url_host="[$url_host]"
  elif [[ $hostport =~ $v4 ]]; then
    url_host=${BASH_REMATCH[1]} colon=${BASH_REMATCH[2]} port=${BASH_REMATCH[3]}
    if [[ $url_host =~ ^[0-9.]+$ ]]; then is_ipv4 "$url_host" || return 1; else is_domain "$url_host" || return 1; fi
  else
    return 1
  fi
  if [ -n "$colon" ]; then
    is_port "$port" || return 1
    url_port=$port
  else
    url_port=$([ "$url_scheme" = https ] && echo 443 || echo 80)
  fi
  is_http_path "$url_path"
}

is_url() { split_url "$1"; }

# check_engine WHERE: the docker CLI is installed (exit 10) and the engine answers (exit 11); WHERE names this
# machine in the message (host, node). Builtins only: it must run on a PATH without coreutils.
check_engine() {
  command -v docker >/dev/null 2>&1 || fail 10 "docker is not installed on this $1; install Docker Engine (Debian: apt-get install docker.io) and run again"
  docker info >/dev/null 2>&1 || fail 11 "the Docker engine does not answer (is dockerd running? does this user have access to its socket?)"
}

# service_field NAME FORMAT: FORMAT (a Go template over `docker service inspect`) for the Swarm service named
# exactly NAME; status 1 when there is none. (`docker service inspect` also resolves IDs and ID prefixes: a
# service found under another name is not NAME.)
service_field() {
  local out
  out=$(docker service inspect --format "{{.Spec.Name}}|$2" "$1" 2>/dev/null) || return 1
  [[ $out == "$1|"* ]] || return 1
  printf '%s\n' "${out#"$1|"}"
}

# db_job KIND SERVICE OPTION... -- COMMAND...: creates a one-off Swarm job (railyard.job=KIND, railyard.KIND-of=
# SERVICE) of database SERVICE's own image, pinned to this node, on its network with its password secret as
# /run/secrets/railyard_db_password, and the create OPTIONs, running COMMAND: the dump or restore of a database whose
# task runs on another node (it reaches the database by its service name over the overlay). Sets db_job_name; on
# failure sets db_job_error to the reason and returns 1 (nothing is left).
db_job_name="" db_job_error=""
# shellcheck disable=SC2034  # db_job_error is read by the callers
db_job() {
  local kind=$1 service=$2 spec image net secret node out opts=() owner
  shift 2
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  spec=$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}|{{range .Spec.TaskTemplate.Networks}}{{.Target}} {{end}}|{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{if eq .File.Name "railyard_db_password"}}{{.SecretName}}{{end}}{{end}}' "$service" 2>/dev/null) ||
    { db_job_error="its service cannot be read"; return 1; }
  IFS='|' read -r image net secret <<<"$spec"
  net=${net%% *}
  [[ -n "$image" && -n "$net" && -n "$secret" ]] ||
    { db_job_error="its service lacks an image, a network or the railyard_db_password secret: not a railyard database"; return 1; }
  node=$(docker info --format '{{.Swarm.NodeID}}' 2>/dev/null || true)
  [ -n "$node" ] || { db_job_error="this node's swarm ID cannot be read"; return 1; }
  # Without /proc this run's job carries no owner: a later run cannot tell whether it is left over, and keeps it.
  if owner=$(job_owner "$$"); then
    db_job_sweep "$node" "$node:$owner"
    owner=(--label "railyard.job-owner=$node:$owner")
  else
    owner=()
  fi
  db_job_name="${service:0:50}-$kind-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
  out=$(docker service create --detach --quiet --name "$db_job_name" --with-registry-auth \
    --label "railyard.job=$kind" --label "railyard.$kind-of=$service" ${owner[@]+"${owner[@]}"} \
    --mode replicated-job --restart-condition none --constraint "node.id==$node" \
    --network "$net" --secret "source=$secret,target=railyard_db_password,mode=0400" \
    ${opts[@]+"${opts[@]}"} "$image" "$@" 2>&1) || { db_job_error="the job could not be created: ${out//$'\n'/ }"; db_job_name=""; return 1; }
}

# db_job_waiting KIND SERVICE SLEEP START_S: a db_job that sleeps SLEEP seconds, for clients to be run in it with
# `docker exec`; waits up to START_S seconds for its running container here. Sets db_job_name and db_job_container.
# Status 1 when the job cannot be made (db_job_error says why), 2 when it did not start in time (db_job_error: its
# task's state and Swarm's error; db_job_name is set, for the caller's removal).
db_job_container=""
# shellcheck disable=SC2034  # db_job_error and db_job_container are read by the callers
db_job_waiting() {
  local deadline
  db_job "$1" "$2" --entrypoint sleep -- "$3" || return 1
  deadline=$((SECONDS + $4))
  until db_job_container=$(docker ps --quiet --filter "label=com.docker.swarm.service.name=$db_job_name" --filter status=running | head -n 1) &&
    [ -n "$db_job_container" ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      db_job_error=$(docker service ps --no-trunc --format '{{.CurrentState}} {{.Error}}' "$db_job_name" 2>/dev/null | head -n 1)
      return 2
    fi
    sleep 0.5
  done
}

# db_job_remove JOB: removes the job and its container (it ran on this node), its anonymous volumes too (a database
# image declares its data folder a volume), asking again while the engine refuses (remove_container).
db_job_remove() {
  local id
  docker service rm "$1" >/dev/null 2>&1 || true
  for id in $(docker ps -aq --filter "label=com.docker.swarm.service.name=$1" 2>/dev/null || true); do
    remove_container "$id" || true
  done
}

# job_owner PID: process PID as this process sees it, "<machine>:<boot>:<pid namespace>:<uid>:<pid>:<start time>"
# (machine: /etc/machine-id, else the host name; boot: this boot's random ID; the start time in clock ticks since
# boot, /proc/PID/stat field 22, tells a reused PID apart). Behind the Swarm node's ID, the railyard.job-owner label
# of the jobs db_job makes. Status 1 when PID does not run here, 2 when it runs but cannot be read.
job_owner() {
  local line fields uid machine
  if ! line=$(cat "/proc/$1/stat" 2>/dev/null); then
    [ -e "/proc/$1" ] && return 2
    return 1
  fi
  # After "PID (COMM) ": COMM may hold spaces and parentheses, so cut at the last ") "; field 3 is then first.
  read -r -a fields <<<"${line##*) }"
  [ -n "${fields[19]:-}" ] || return 2
  uid=$(stat -c %u "/proc/$1" 2>/dev/null) || return 2
  machine=$(cat /etc/machine-id 2>/dev/null || true)
  printf '%s:%s:%s:%s:%s:%s' "${machine:-$(uname -n)}" "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || true)" \
    "$(readlink /proc/self/ns/pid 2>/dev/null | tr -dc 0-9)" "$uid" "$1" "${fields[19]}"
}

# db_job_sweep NODE ME: removes the one-off jobs of db_job left by a run that is gone — killed before its EXIT trap
# ran (SIGKILL, the OOM killer) or before this machine restarted: a restore's job would otherwise sleep a day holding
# the database's password secret — saying which. NODE is this engine's Swarm node ID, ME this run's owner label.
# Only jobs made on NODE by this machine are judged; one whose process runs (or may: another PID namespace, another
# user's process this user cannot see) is left.
db_job_sweep() {
  local node=$1 ids name owner o_node o_machine o_boot o_ns o_uid pid machine boot ns now rc why
  IFS=: read -r _ machine boot ns _ <<<"$2"
  ids=$(docker service ls --quiet --filter label=railyard.job-owner 2>/dev/null) || return 0
  [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086  # one ID a word
  docker service inspect --format '{{.Spec.Name}}|{{index .Spec.Labels "railyard.job-owner"}}' $ids 2>/dev/null |
    while IFS='|' read -r name owner; do
      IFS=: read -r o_node o_machine o_boot o_ns o_uid pid _ <<<"$owner"
      [[ "$o_node" == "$node" && "$o_machine" == "$machine" && "$pid" =~ ^[0-9]+$ ]] || continue
      if [ "$o_boot" != "$boot" ]; then
        why="it was made before this machine restarted"
      else
        [ "$o_ns" = "$ns" ] || continue
        [ "$(id -u)" = 0 ] || [ "$o_uid" = "$(id -u)" ] || continue
        rc=0
        now=$(job_owner "$pid") || rc=$?
        [ "$rc" != 2 ] || continue
        [ "$node:$now" != "$owner" ] || continue
        why="the process that made it (pid $pid) is gone"
      fi
      printf '%s: removing one-off job %s: %s\n' "${RAILYARD_SCRIPT:-railyard}" "$(q "$name")" "$why" >&2
      db_job_remove "$name"
    done || true
}

# running_task_node SERVICE: the host name of the node a running task of SERVICE is on (any node of the swarm);
# nothing when none runs. For a database whose container is not on this node: where it is, for the message or a job.
running_task_node() {
  { docker service ps --no-trunc --filter desired-state=running --format '{{.CurrentState}}|{{.Node}}' "$1" 2>/dev/null || true; } |
    sed -n 's/^Running[^|]*|//p' | head -n 1
}

# remove_container NAME: `docker rm --force --volumes NAME`, tried again (up to 5 times, 1+2+3+4 s apart) while
# the engine refuses (under load dockerd can answer "did not receive an exit event" or "removal already in
# progress"). Status 0 once NAME is gone; 1 with the engine's last answer on stderr when it is still there.
remove_container() {
  local try out=""
  for try in 1 2 3 4 5; do
    out=$(docker rm --force --volumes "$1" 2>&1) && return 0
    docker container inspect "$1" >/dev/null 2>&1 || return 0
    ((try == 5)) || sleep "$try"
  done
  printf '%s: the container %s was not removed: %s\n' "${RAILYARD_SCRIPT:-railyard}" "$(q "$1")" "$(tail -n 1 <<<"$out")" >&2
  return 1
}

# json_str VALUE: VALUE as a JSON string, quotes included (backslash, quote and control characters escaped).
json_str() {
  local s=$1 c u re=$'([\x01-\x1f])'
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  while [[ $s =~ $re ]]; do
    c=${BASH_REMATCH[1]}
    printf -v u '\\u%04x' "'$c"
    s=${s//"$c"/$u}
  done
  printf '"%s"' "$s"
}

# write_json FILE JSON: writes JSON to FILE atomically (a temporary file beside it, renamed over it), so a
# reader never sees half a file. Status 1 when the folder cannot be written.
write_json() {
  local tmp
  tmp="$1.$$.tmp"
  { mkdir -p -- "${1%/*}" && printf '%s\n' "$2" >"$tmp" && mv -f -- "$tmp" "$1"; } 2>/dev/null || {
    rm -f -- "$tmp"
    return 1
  }
}

# post_webhook FILE TEXT: POSTs {"text": TEXT} (Slack's incoming-webhook form) to the URL in FILE with curl,
# the URL handed over on a file descriptor (`--config`), never in argv. A webhook that fails is reported on
# stderr and returns 1; the caller's own failure stays what it was.
post_webhook() {
  local url
  url=$(head -n 1 -- "$1" 2>/dev/null) || url=""
  url=${url%$'\r'}
  if ! [[ $url =~ ^https?://[^[:space:][:cntrl:]\"\\]+$ ]]; then
    printf '%s: the webhook file %s holds no http(s) URL; nothing was posted\n' "${RAILYARD_SCRIPT:-railyard}" "$(q "$1")" >&2
    return 1
  fi
  if ! curl --silent --show-error --fail --max-time 15 --config /dev/fd/3 -H 'Content-Type: application/json' \
    --data-binary @- 3<<<"url = \"$url\"" <<<"{\"text\":$(json_str "$2")}" >/dev/null; then
    printf '%s: the webhook POST failed\n' "${RAILYARD_SCRIPT:-railyard}" >&2
    return 1
  fi
}
