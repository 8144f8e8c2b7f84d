# shellcheck shell=bash
# railyard-s3: what the scripts that talk to the backup bucket share (railyard-backup.sh's bucket mode, the
# restore and the drill): the common S3 options and their checks, `aws` run with a credentials file and nothing
# else, the dump keys' UTC times and small JSON values.
# Sourced after railyard-lib.sh (it uses fail, check, opt_value, q, is_name, is_abs_path, is_url; json_str,
# write_json and post_webhook, which the release store shares, live there too).
#
# Object layout: <stack>/<database>/<YYYYmmddTHHMMSSZ>.<ext>.zst, and <same key>.json (the completion manifest)
# written only once the dump and its upload both succeeded.

# Marks the library as loaded.
railyard_s3() { :; }

# The common S3 options, as s3_parse_option sets them (s3_region gets its default in s3_check_options).
s3_bucket="" s3_prefix="" s3_credentials="" s3_endpoint="" s3_region=""
# Set by s3_check_options: the prefix's two names, and the argv that runs `aws` with the credentials file.
s3_stack="" s3_database="" aws_argv=()

# s3_parse_option "$@": in an argument loop standing on $1, sets the value of a common S3 option (--bucket
# --prefix --credentials --endpoint --region) and returns 0 (the loop then shifts 2); returns 1 for any other
# argument. Fails (exit 2) when the option has no value.
#   *) if s3_parse_option "$@"; then shift 2; else unknown_argument "$1"; fi ;;
s3_parse_option() {
  case "$1" in
    --bucket) opt_value s3_bucket "$@" ;;
    --prefix) opt_value s3_prefix "$@" ;;
    --credentials) opt_value s3_credentials "$@" ;;
    --endpoint) opt_value s3_endpoint "$@" ;;
    --region) opt_value s3_region "$@" ;;
    *) return 1 ;;
  esac
}

# s3_given: some common S3 option was given (a script with another mode refuses to mix them).
s3_given() { [[ -n $s3_bucket$s3_prefix$s3_credentials$s3_endpoint$s3_region ]]; }

# is_bucket VALUE: an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens; a letter or digit
# at each end; no two dots in a row).
is_bucket() { [[ $1 =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ && $1 != *..* ]]; }

# is_region VALUE: an AWS region or what S3-compatible stores take instead (us-east-1, eu-central-1, auto).
is_region() { [[ $1 =~ ^[a-z][a-z0-9-]{0,31}$ ]]; }

# is_stack_prefix VALUE: STACK/DATABASE, two railyard names.
is_stack_prefix() { [[ $1 == */* ]] && is_name "${1%%/*}" && is_name "${1#*/}"; }

# is_secret_file VALUE: an absolute path to a readable regular file no one but its owner can read or write.
is_secret_file() {
  local mode
  is_abs_path "$1" && [[ -f $1 && -r $1 ]] || return 1
  mode=$(stat -c %a -- "$1" 2>/dev/null) || return 1
  ((8#$mode & 8#077)) && return 1
  return 0
}

# s3_check_options: checks the common S3 options (exit 2 naming the first bad one), applies the region's
# default, and sets s3_stack, s3_database and aws_argv.
s3_check_options() {
  check --bucket "$s3_bucket" "an S3 bucket name (3 to 63 a-z, 0-9, . and -)" is_bucket
  check --prefix "$s3_prefix" "STACK/DATABASE (two railyard names: a-z, 0-9, inner -, at most 63 each)" is_stack_prefix
  check --credentials "$s3_credentials" \
    "an absolute path to a readable AWS shared-credentials file that only its owner can read (chmod 600)" is_secret_file
  [ -z "$s3_endpoint" ] || check --endpoint "$s3_endpoint" "an http(s)://HOST[:PORT][/PATH] URL" is_url
  s3_region=${s3_region:-us-east-1}
  check --region "$s3_region" "a region name (a-z, 0-9 and -, e.g. us-east-1 or auto)" is_region
  # shellcheck disable=SC2034  # what the sourcing script reads
  s3_stack=${s3_prefix%%/*} s3_database=${s3_prefix#*/}
  aws_command
}

# aws_command: sets aws_argv, `aws` run with the credentials file's default profile and nothing else: every
# AWS_* variable of the environment is dropped (keys or a profile there would win over the file) but the CA
# bundle, the config file is /dev/null, and the instance metadata service is not asked.
aws_command() {
  local name unset=()
  for name in ${!AWS_@}; do
    [ "$name" = AWS_CA_BUNDLE ] || unset+=(-u "$name")
  done
  aws_argv=(env "${unset[@]}" "AWS_SHARED_CREDENTIALS_FILE=$s3_credentials" AWS_CONFIG_FILE=/dev/null
    AWS_EC2_METADATA_DISABLED=true AWS_PAGER= aws)
  [ -z "$s3_endpoint" ] || aws_argv+=(--endpoint-url "$s3_endpoint")
  aws_argv+=(--region "$s3_region")
}

# aws_cli ARGS...: `aws ARGS` as aws_command sets it up (after s3_check_options). aws_s3 ARGS...: `aws s3 ARGS`.
aws_cli() { "${aws_argv[@]}" "$@"; }
aws_s3() { aws_cli s3 "$@"; }

# s3_url KEY: s3://BUCKET/KEY.
s3_url() { printf 's3://%s/%s' "$s3_bucket" "$1"; }

# engine_ext ENGINE: the dump's file extension for ENGINE (status 1 for an unknown engine).
engine_ext() {
  case "$1" in
    postgres) echo dump ;;
    mysql) echo sql ;;
    mongo) echo archive ;;
    redis) echo rdb ;;
    *) return 1 ;;
  esac
}

# utc_stamp: the UTC time now as dump keys carry it: YYYYmmddTHHMMSSZ. epoch_stamp EPOCH: EPOCH seconds so.
utc_stamp() { date -u +%Y%m%dT%H%M%SZ; }
epoch_stamp() { date -u -d "@$1" +%Y%m%dT%H%M%SZ; }

# utc_iso: the UTC time now as manifests and state files carry it: YYYY-mm-ddTHH:MM:SSZ. epoch_iso EPOCH.
utc_iso() { date -u +%Y-%m-%dT%H:%M:%SZ; }
epoch_iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

is_stamp() { [[ $1 =~ ^[0-9]{8}T[0-9]{6}Z$ ]]; }

# stamp_iso STAMP: YYYYmmddTHHMMSSZ as YYYY-mm-ddTHH:MM:SSZ.
stamp_iso() {
  local s=$1
  printf '%s-%s-%sT%s:%s:%sZ\n' "${s:0:4}" "${s:4:2}" "${s:6:2}" "${s:9:2}" "${s:11:2}" "${s:13:2}"
}

# stamp_epoch STAMP: the stamp's time in seconds since the epoch.
stamp_epoch() { date -u -d "$(stamp_iso "$1")" +%s; }

# dump_key STAMP EXT: the dump object's key under the prefix: STACK/DATABASE/STAMP.EXT.zst.
dump_key() { printf '%s/%s.%s.zst' "$s3_prefix" "$1" "$2"; }

# key_time KEY: the STAMP of a dump key (…/YYYYmmddTHHMMSSZ.EXT.zst); status 1 for any other key (a manifest,
# a stranger's object).
key_time() {
  [[ $1 =~ (^|/)([0-9]{8}T[0-9]{6}Z)\.[a-z]+\.zst$ ]] || return 1
  printf '%s\n' "${BASH_REMATCH[2]}"
}

# json_field NAME JSON: the value of NAME in a flat JSON object as railyard writes them (a number, true/false,
# or a string without escapes: keys, hashes and times are), without quotes; status 1 when absent.
json_field() {
  local re="\"$1\"[[:space:]]*:[[:space:]]*(\"([^\"\\\\]*)\"|(-?[0-9]+|true|false))"
  [[ $2 =~ $re ]] || return 1
  printf '%s\n' "${BASH_REMATCH[2]}${BASH_REMATCH[3]}"
}

