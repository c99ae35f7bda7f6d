#!/usr/bin/env bash
# bench/run.sh — Sluice beside nginx and the bare Node proxy, same upstream, one run.
#
# What it does:
#   1. Starts an nginx origin (bench/conf/upstream.conf) and the contestants, each in its own
#      process group, pinned with taskset: contestants on CPU 0, wrk/h2load and the origin on
#      CPU 1 (this machine has 2 cores). Keep-alive on both sides everywhere.
#   2. Per round, per scenario, loads every contestant in turn (A B C A B C ...) so drifts of a
#      shared machine spread over all of them; prints the median over rounds.
#   3. Prints one markdown table per scenario with req/s, p50/p99, the contestant's CPU, and
#      ratios to nginx and to the Node baseline FROM THE SAME RUN. Raw data: $RUN_DIR/.
#
# Contestants:
#   nginx          nginx reverse proxy, 1 worker, access log off (bench/conf/nginx-proxy.conf)
#   node           the Node baseline: node:http server + undici.Pool (bench/node/baseline-proxy.mjs)
#   sluice         `sluice run` on bench/configs/base (a Gateway + a VirtualService with a dozen
#                  routes; the bench paths match routes 11 and 12), access log to a file, metrics on
#   sluice-<codec> with --codecs fast,node: one Sluice per downstream codec
#   sluice+<v>     with --variants v: Sluice with bench/configs/base AND bench/configs/<v>/ (e.g.
#                  security: JWT + authz + rate limit); optional bench/configs/<v>/wrk-args.sh
#                  prints extra wrk arguments (e.g. an Authorization header). Ratios "vs sluice"
#                  give the cost of the variant's features.
#   sluice{FLAGS}  with --node-variants 'FLAGS;VAR=value': Sluice under node FLAGS or with VAR set (experiments)
#   sluice@NAME    with --compare DIR (repeatable): the Sluice of another built checkout (e.g. a git
#                  worktree of main: `git worktree add /tmp/base main && (cd /tmp/base && npm ci &&
#                  npm run build)`), same flags and config: before/after in the same run
#
# Scenarios (--scenarios, comma list):
#   small   wrk -t1 -c64, GET /      -> 2-byte body through the dozen routes
#   16k     wrk -t1 -c64, GET /16k   -> 16 KiB body
#   https   wrk -t1 -c64, GET / over HTTPS (TLS terminated by the contestant, plain upstream)
#   h2      h2load -c32 -m10, h2c prior knowledge, GET /
#   tls-new wrk -t1 -c64 with Connection: close over HTTPS: a new TLS handshake per request
#   scale   nginx 1 vs 2 workers and Sluice --concurrency 1 vs 2, everything on both CPUs
#           (contestant, wrk -t2 and the origin share the 2 cores: see the note it prints)
#   rss     RSS (MiB, max sampled) of each contestant while wrk holds 1000 keep-alive connections
#
# Usage: bench/run.sh [--rounds N] [--duration S] [--connections N] [--scenarios LIST]
#                     [--contestants LIST] [--codecs LIST] [--variants LIST] [--sluice-args ARGS]
#                     [--compare DIR] [--out FILE]
#   defaults: 2 rounds, 3 s, 64 connections, scenarios small,16k,https,h2,
#             contestants sluice,nginx,node
# Env: RUN_DIR (/tmp/sluice-bench, wiped), BASE_PORT (19000), PROXY_CPU (0), CLIENT_CPU (1),
#      NICE (-10: the runs get CPU before other users' builds on a shared machine).
# Needs: wrk, nginx, h2load (nghttp2-client), openssl, taskset; `npm run build` done.
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
ROUNDS=2 DURATION=3 CONNS=64 SCENARIOS=small,16k,https,h2 CONTESTANTS=sluice,nginx,node
CODECS="" VARIANTS="" SLUICE_ARGS="" OUT="" NODE_VARIANTS="" COMPARE=()
RUN_DIR=${RUN_DIR:-/tmp/sluice-bench}
BASE_PORT=${BASE_PORT:-19000}
PROXY_CPU=${PROXY_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NICE=${NICE:--10}

die() { echo "bench/run.sh: $*" >&2; exit 1; }
log() { echo "[$(date +%T)] $*" >&2; }

while (($#)); do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --scenarios) SCENARIOS=$2; shift 2 ;;
    --contestants) CONTESTANTS=$2; shift 2 ;;
    --codecs) CODECS=$2; shift 2 ;;
    --variants) VARIANTS=$2; shift 2 ;;
    --sluice-args) SLUICE_ARGS=$2; shift 2 ;;
    --node-variants) NODE_VARIANTS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --compare) [[ -f $2/bin/sluice.js ]] || die "--compare $2: no bin/sluice.js there"; COMPARE+=("$(cd "$2" && pwd)"); shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
  esac
done
for tool in wrk nginx h2load openssl taskset setsid curl node; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install wrk nginx nghttp2-client openssl)"
done
[[ -f $ROOT/dist/cli/main.js || -f $ROOT/dist/src/cli/main.js ]] || die "build first: npm run build"
has() { [[ ",$1," == *",$2,"* ]]; }

# ---------------------------------------------------------------- run directory
[[ $RUN_DIR == /tmp/?* ]] || die "RUN_DIR must be under /tmp (it is wiped)"
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"/{logs,raw,www,tls,creds/bench-cert,upstream/tmp,nginx/tmp,nginx2/tmp,configs}
head -c 16384 /dev/zero | tr '\0' 'x' >"$RUN_DIR/www/16k"
TLS_CERT=$RUN_DIR/tls/cert.pem TLS_KEY=$RUN_DIR/tls/key.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$TLS_KEY" -out "$TLS_CERT" 2>"$RUN_DIR/logs/openssl.log"
cp "$TLS_CERT" "$RUN_DIR/creds/bench-cert/tls.crt"
cp "$TLS_KEY" "$RUN_DIR/creds/bench-cert/tls.key"
UP_PORT=$BASE_PORT
TSV=$RUN_DIR/runs.tsv
printf 'round\tscenario\tname\treq_s\tp50_ms\tp99_ms\tcpu_pct\terrors\n' >"$TSV"

render() { # template output port [workers]
  sed -e "s|@PORT@|$3|g" -e "s|@TLS_PORT@|$(($3 + 1))|g" -e "s|@H2_PORT@|$(($3 + 2))|g" \
    -e "s|@UPSTREAM_PORT@|$UP_PORT|g" -e "s|@RUN_DIR@|$RUN_DIR|g" -e "s|@TLS_CERT@|$TLS_CERT|g" \
    -e "s|@TLS_KEY@|$TLS_KEY|g" -e "s|@WORKERS@|${4:-1}|g" "$1" >"$2"
}
render_dir() { # src dst
  mkdir -p "$2"
  local f
  for f in "$1"/*.yaml; do [[ -e $f ]] && render "$f" "$2/$(basename "$f")" 0; done
}
render "$BENCH/conf/upstream.conf" "$RUN_DIR/upstream/nginx.conf" "$UP_PORT"
render_dir "$BENCH/configs/base" "$RUN_DIR/configs/base"

# ---------------------------------------------------------------- processes
# Every process runs in its own session (its own scheduler autogroup), with the autogroup
# priority raised, pinned to its CPU set.
PINNED='echo "$1" >/proc/self/autogroup 2>/dev/null; exec nice -n "$1" taskset -c "$2" "${@:3}"'
GROUPS_STARTED=()
cleanup() {
  local g i alive
  for g in "${GROUPS_STARTED[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for i in $(seq 50); do
    alive=0
    for g in "${GROUPS_STARTED[@]}"; do kill -0 -- "-$g" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for g in "${GROUPS_STARTED[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# launch NAME CPUS CMD: LAUNCHED = pid = process group id
launch() {
  (exec setsid bash -c "$PINNED" _ "$NICE" "$2" bash -c "$3") >>"$RUN_DIR/logs/$1.log" 2>&1 </dev/null &
  LAUNCHED=$!
  GROUPS_STARTED+=("$LAUNCHED")
}
stop_group() { # PGID
  kill -TERM -- "-$1" 2>/dev/null || true
  local i
  for i in $(seq 50); do kill -0 -- "-$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null || true
}

wait_ready() { # NAME PGID URL [extra curl args, as wrk's: -H 'Name: value']
  local deadline=$((SECONDS + 30)) body
  local -a extra=()
  eval "extra=(${4:-})"
  until body=$(curl -s --max-time 2 "${extra[@]}" "$3" 2>/dev/null) && [[ $body == ok ]]; do
    if ! kill -0 "$2" 2>/dev/null || ((SECONDS > deadline)); then
      log "$1 is not serving $3 (answer: '${body:-}'); end of $RUN_DIR/logs/$1.log:"
      tail -n 20 "$RUN_DIR/logs/$1.log" >&2
      return 1
    fi
    sleep 0.2
  done
}

HZ=$(getconf CLK_TCK)
group_ticks() {
  local t=0 pid line
  local -a v
  for pid in $(pgrep -g "$1"); do
    { read -r line <"/proc/$pid/stat"; } 2>/dev/null || continue
    read -ra v <<<"${line##*) }"
    t=$((t + v[11] + v[12]))
  done
  echo "$t"
}
group_rss_kib() {
  local kb=0 pid v
  for pid in $(pgrep -g "$1"); do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) && kb=$((kb + ${v:-0}))
  done
  echo "$kb"
}

# ---------------------------------------------------------------- contestants
# C_NAME C_CMD C_CPUS C_PORT C_TLS C_H2 C_WRK(extra wrk args)
C_NAME=() C_CMD=() C_CPUS=() C_PORT=() C_TLS=() C_H2=() C_WRK=()
NEXT_PORT=$((BASE_PORT + 10))
add() { # name cmd cpus [tls:yes/no] [h2: same|next|none] [wrk args]
  local p=$NEXT_PORT
  NEXT_PORT=$((NEXT_PORT + 10))
  C_NAME+=("$1") C_CMD+=("$2") C_CPUS+=("$3") C_PORT+=("$p")
  C_TLS+=("$([[ ${4:-yes} == yes ]] && echo $((p + 1)) || echo "")")
  case ${5:-next} in same) C_H2+=("$p") ;; next) C_H2+=($((p + 2))) ;; *) C_H2+=("") ;; esac
  C_WRK+=("${6:-}")
}
SLUICE_BIN=$ROOT/bin/sluice.js
sluice_cmd() { # port configs-args extra-args [node flags, or VAR=value for the environment] [sluice.js]
  local launch="node ${4:-${SLUICE_NODE_FLAGS:-}}"
  [[ ${4:-} == [A-Z]*=* ]] && launch="env $4 node"
  echo "exec $launch ${5:-$SLUICE_BIN} run $2 --port-map 80=$1,443=$(($1 + 1)) --listen-host 127.0.0.1 \
--admin-port $(($1 + 3)) --credentials $RUN_DIR/creds --access-log $RUN_DIR/logs/access-$1.log \
--log-level warn $3 $SLUICE_ARGS"
}
add_sluice() { # name cpus extra-args [variant] [node flags] [sluice.js]
  local p=$NEXT_PORT cfg="-c $RUN_DIR/configs/base" wrkargs=""
  if [[ -n ${4:-} ]]; then
    [[ -d $BENCH/configs/$4 ]] || die "--variants $4: no folder bench/configs/$4"
    render_dir "$BENCH/configs/$4" "$RUN_DIR/configs/$4"
    cfg="$cfg -c $RUN_DIR/configs/$4"
    [[ -x $BENCH/configs/$4/wrk-args.sh ]] && wrkargs=$(RUN_DIR=$RUN_DIR "$BENCH/configs/$4/wrk-args.sh")
  fi
  add "$1" "$(sluice_cmd "$p" "$cfg" "$3" "${5:-}" "${6:-}")" "$2" yes same "$wrkargs"
}

IFS=, read -ra CLIST <<<"$CONTESTANTS"
for c in "${CLIST[@]}"; do
  case $c in
    nginx)
      render "$BENCH/conf/nginx-proxy.conf" "$RUN_DIR/nginx/nginx.conf" "$NEXT_PORT" 1
      add nginx "exec nginx -e $RUN_DIR/nginx/error.log -c $RUN_DIR/nginx/nginx.conf" "$PROXY_CPU" ;;
    node)
      add node "PORT=$NEXT_PORT TLS_PORT=$((NEXT_PORT + 1)) TLS_CERT=$TLS_CERT TLS_KEY=$TLS_KEY UPSTREAM_HOST=127.0.0.1 \
UPSTREAM_PORT=$UP_PORT exec node $BENCH/node/baseline-proxy.mjs" "$PROXY_CPU" yes none ;;
    sluice)
      if [[ -n $CODECS ]]; then
        IFS=, read -ra CO <<<"$CODECS"
        for co in "${CO[@]}"; do add_sluice "sluice-$co" "$PROXY_CPU" "--concurrency 1 --codec $co"; done
      else
        add_sluice sluice "$PROXY_CPU" "--concurrency 1"
      fi
      if [[ -n $NODE_VARIANTS ]]; then
        IFS=';' read -ra NV <<<"$NODE_VARIANTS"
        for nv in "${NV[@]}"; do add_sluice "sluice{${nv// /}}" "$PROXY_CPU" "--concurrency 1" "" "$nv"; done
      fi
      for d in "${COMPARE[@]}"; do add_sluice "sluice@$(basename "$d")" "$PROXY_CPU" "--concurrency 1" "" "" "$d/bin/sluice.js"; done
      if [[ -n $VARIANTS ]]; then
        IFS=, read -ra VA <<<"$VARIANTS"
        for v in "${VA[@]}"; do add_sluice "sluice+$v" "$PROXY_CPU" "--concurrency 1" "$v"; done
      fi ;;
    *) die "unknown contestant $c (sluice, nginx, node)" ;;
  esac
done

# ---------------------------------------------------------------- measuring
# measure ROUND SCENARIO INDEX TOOL URL [connections] [extra wrk args]: one run; appends a row to $TSV
measure() {
  local round=$1 sc=$2 i=$3 tool=$4 url=$5 raw t0 t1 wall0 wall1 cpu
  raw=$RUN_DIR/raw/$sc.${C_NAME[$i]}.$round.txt
  local -a cmd
  if [[ $tool == h2load ]]; then cmd=(h2load -c 32 -m 10 -D "$DURATION" "$url")
  else cmd=(wrk -t1 -c"${6:-$CONNS}" -d"${DURATION}s" --latency); eval "cmd+=(${C_WRK[$i]} ${7:-})"; cmd+=("$url"); fi
  t0=$(group_ticks "${C_PID[$i]}"); wall0=$(date +%s%N)
  setsid bash -c "$PINNED" _ "$NICE" "$CLIENT_CPU" "${cmd[@]}" >"$raw" 2>&1 || true
  t1=$(group_ticks "${C_PID[$i]}"); wall1=$(date +%s%N)
  cpu=$(((t1 - t0) * 100 * 1000000000 / HZ / (wall1 - wall0 + 1)))
  parse_client "$raw" "$round" "$sc" "${C_NAME[$i]}" "$cpu" | tee -a "$TSV" |
    awk -F'\t' '{printf "  %-18s %9s req/s  p50 %7s ms  p99 %7s ms  cpu %3s%%  errors %s\n", $3, $4, $5, $6, $7, $8}' >&2
}
parse_client() { # raw round scenario name cpu
  awk -v round="$2" -v sc="$3" -v name="$4" -v cpu="$5" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { err += $NF }
    /Socket errors:/ { gsub(/[^0-9 ]/, " "); for (i = 1; i <= NF; i++) err += $i }
    /^finished in/ { rps = $4 }
    /^requests:/ { err += $10 + $12 }
    /^status codes:/ { err += $7 + $9 }
    /^time for request:/ { p50 = ms($6); p99 = ms($5) }
    END { if (rps == "") rps = "NA"; printf "%s\t%s\t%s\t%s\t%.3f\t%.3f\t%d\t%d\n", round, sc, name, rps, p50, p99, cpu, err }' "$1"
}
url_for() { # scenario index
  case $1 in
    small) echo "http://127.0.0.1:${C_PORT[$2]}/" ;;
    16k) echo "http://127.0.0.1:${C_PORT[$2]}/16k" ;;
    https | tls-new) [[ -z ${C_TLS[$2]} ]] || echo "https://127.0.0.1:${C_TLS[$2]}/" ;;
    h2) [[ -z ${C_H2[$2]} ]] || echo "http://127.0.0.1:${C_H2[$2]}/" ;;
  esac
}

log "run dir $RUN_DIR; contestants on CPU $PROXY_CPU, clients + origin on CPU $CLIENT_CPU"
launch upstream "$CLIENT_CPU" "exec nginx -e $RUN_DIR/upstream/error.log -c $RUN_DIR/upstream/nginx.conf"
UP_PID=$LAUNCHED
for _ in $(seq 50); do port_open "$UP_PORT" && break; sleep 0.1; done
[[ $(curl -s "http://127.0.0.1:$UP_PORT/16k" | wc -c) == 16384 ]] || die "origin does not serve /16k"

C_PID=()
start_all() {
  local i
  C_PID=()
  for i in "${!C_NAME[@]}"; do launch "${C_NAME[$i]}" "${C_CPUS[$i]}" "${C_CMD[$i]}"; C_PID+=("$LAUNCHED"); done
  for i in "${!C_NAME[@]}"; do wait_ready "${C_NAME[$i]}" "${C_PID[$i]}" "http://127.0.0.1:${C_PORT[$i]}/" "${C_WRK[$i]}" || die "${C_NAME[$i]} failed to start"; done
}
stop_all() { local i; for i in "${!C_PID[@]}"; do stop_group "${C_PID[$i]}"; done; }

IFS=, read -ra SC_LIST <<<"$SCENARIOS"
MAIN=() EXTRA=()
for sc in "${SC_LIST[@]}"; do
  case $sc in small | 16k | https | h2 | tls-new) MAIN+=("$sc") ;; scale | rss) EXTRA+=("$sc") ;; *) die "unknown scenario $sc" ;; esac
done

if ((${#MAIN[@]})); then
  start_all
  log "warm-up (2 s each)"
  for i in "${!C_NAME[@]}"; do
    eval "warm=(${C_WRK[$i]})"
    setsid bash -c "$PINNED" _ "$NICE" "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d2s "${warm[@]}" "http://127.0.0.1:${C_PORT[$i]}/" >/dev/null 2>&1 || true
    [[ -n ${C_TLS[$i]} ]] && { setsid bash -c "$PINNED" _ "$NICE" "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d1s "https://127.0.0.1:${C_TLS[$i]}/" >/dev/null 2>&1 || true; }
  done
  for round in $(seq "$ROUNDS"); do
    for sc in "${MAIN[@]}"; do
      log "round $round/$ROUNDS, $sc"
      for i in "${!C_NAME[@]}"; do
        url=$(url_for "$sc" "$i")
        [[ -n $url ]] || continue
        tool=wrk; [[ $sc == h2 ]] && tool=h2load
        if [[ $sc == tls-new ]]; then measure "$round" "$sc" "$i" wrk "$url" "$CONNS" "-H 'Connection: close'"
        else measure "$round" "$sc" "$i" "$tool" "$url"; fi
      done
    done
  done
  stop_all
fi

RSS_ROWS=()
if has "$SCENARIOS" rss; then
  log "rss: 1000 idle keep-alive connections, then 1000 busy ones (wrk -c1000)"
  start_all
  for i in "${!C_NAME[@]}"; do
    idle=$(group_rss_kib "${C_PID[$i]}")
    # 1000 keep-alive connections, one request each, then idle: RSS sampled while they are open.
    ( setsid bash -c "$PINNED" _ "$NICE" "$CLIENT_CPU" node "$BENCH/tools/hold-connections.mjs" "${C_PORT[$i]}" 1000 4 >"$RUN_DIR/raw/hold.${C_NAME[$i]}.txt" 2>&1 || true ) &
    hpid=$!
    held=0
    while kill -0 "$hpid" 2>/dev/null; do
      v=$(group_rss_kib "${C_PID[$i]}"); ((v > held)) && held=$v
      sleep 0.2
    done
    wait "$hpid" || true
    max=0
    ( setsid bash -c "$PINNED" _ "$NICE" "$CLIENT_CPU" wrk -t1 -c1000 -d"${DURATION}s" --latency "http://127.0.0.1:${C_PORT[$i]}/" >"$RUN_DIR/raw/rss.${C_NAME[$i]}.txt" 2>&1 || true ) &
    wpid=$!
    while kill -0 "$wpid" 2>/dev/null; do
      v=$(group_rss_kib "${C_PID[$i]}"); ((v > max)) && max=$v
      sleep 0.2
    done
    wait "$wpid" || true
    row=$(parse_client "$RUN_DIR/raw/rss.${C_NAME[$i]}.txt" 1 rss "${C_NAME[$i]}" 0)
    RSS_ROWS+=("${C_NAME[$i]}	$((idle / 1024))	$((held / 1024))	$((max / 1024))	$(cut -f4 <<<"$row")	$(cut -f6 <<<"$row")	$(cut -f8 <<<"$row")	$(tr -d '\n' <"$RUN_DIR/raw/hold.${C_NAME[$i]}.txt")")
    log "  ${C_NAME[$i]}: idle $((idle / 1024)) MiB, 1000 idle keep-alive $((held / 1024)) MiB, 1000 busy $((max / 1024)) MiB"
  done
  stop_all
fi

SCALE_NOTE=""
if has "$SCENARIOS" scale; then
  log "scale: 1 vs 2 workers, contestants, wrk -t2 and the origin all on CPUs 0-1"
  SAVE=("${C_NAME[@]}")
  C_NAME=() C_CMD=() C_CPUS=() C_PORT=() C_TLS=() C_H2=() C_WRK=()
  render "$BENCH/conf/nginx-proxy.conf" "$RUN_DIR/nginx/nginx.conf" "$NEXT_PORT" 1
  add nginx-w1 "exec nginx -e $RUN_DIR/nginx/error.log -c $RUN_DIR/nginx/nginx.conf" 0-1
  sed -e "s|/nginx/|/nginx2/|g" "$BENCH/conf/nginx-proxy.conf" >"$RUN_DIR/nginx2/tpl.conf"
  render "$RUN_DIR/nginx2/tpl.conf" "$RUN_DIR/nginx2/nginx.conf" "$NEXT_PORT" 2
  add nginx-w2 "exec nginx -e $RUN_DIR/nginx2/error.log -c $RUN_DIR/nginx2/nginx.conf" 0-1
  add_sluice sluice-c1 0-1 "--concurrency 1"
  add_sluice sluice-c2 0-1 "--concurrency 2"
  start_all
  for round in $(seq "$ROUNDS"); do
    for i in "${!C_NAME[@]}"; do
      raw=$RUN_DIR/raw/scale.${C_NAME[$i]}.$round.txt
      t0=$(group_ticks "${C_PID[$i]}"); wall0=$(date +%s%N)
      setsid bash -c "$PINNED" _ "$NICE" 0-1 wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:${C_PORT[$i]}/" >"$raw" 2>&1 || true
      t1=$(group_ticks "${C_PID[$i]}"); wall1=$(date +%s%N)
      parse_client "$raw" "$round" scale "${C_NAME[$i]}" $(((t1 - t0) * 100 * 1000000000 / HZ / (wall1 - wall0 + 1))) | tee -a "$TSV" |
        awk -F'\t' '{printf "  %-18s %9s req/s  p50 %7s ms  p99 %7s ms  cpu %3s%%\n", $3, $4, $5, $6, $7}' >&2
    done
  done
  stop_all
  SCALE_NOTE="scale: contestant, wrk -t2 and the origin all share CPUs 0-1 (2 cores): the client and origin take a large share, so 2 workers cannot double; compare each contestant's w2/w1 (c2/c1) ratio."
fi

# ---------------------------------------------------------------- summary
summary() {
  echo "## bench/run.sh, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- $ROUNDS rounds, interleaved; wrk -t1 -c$CONNS -d${DURATION}s; h2load -c32 -m10 -D$DURATION; contestant on CPU $PROXY_CPU, client + origin on CPU $CLIENT_CPU; median over rounds"
  [[ -n $SLUICE_ARGS ]] && echo "- sluice args: $SLUICE_ARGS"
  awk -F'\t' -v order="small,16k,https,tls-new,h2,scale" '
    function median(s,   a, n, i, j, t) {
      n = split(s, a, " ")
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    NR == 1 { next }
    {
      k = $2 SUBSEP $3
      if (!(k in seen)) { seen[k] = 1; names[$2] = names[$2] " " $3 }
      if ($4 == "NA") next
      rps[k] = rps[k] " " $4; p50[k] = p50[k] " " $5; p99[k] = p99[k] " " $6; cpu[k] = cpu[k] " " $7; err[k] += $8
    }
    function ref(sc, n) { return (sc SUBSEP n) in rps ? median(rps[sc, n]) : 0 }
    function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
    END {
      ns = split(order, scs, ",")
      for (s = 1; s <= ns; s++) {
        sc = scs[s]; if (!(sc in names)) continue
        lat = sc == "h2" ? "| mean ms | max ms |" : "| p50 ms | p99 ms |"
        print ""; print "### " sc; print ""
        print "| contestant | req/s " lat " cpu% | vs nginx | p99 vs nginx | vs node | vs sluice | errors |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        ng = ref(sc, "nginx"); nd = ref(sc, "node"); sl = ref(sc, "sluice")
        ngp = (sc SUBSEP "nginx") in p99 ? median(p99[sc, "nginx"]) : 0
        if (sl == 0) sl = ref(sc, "sluice-fast")
        n = split(names[sc], list, " ")
        for (i = 1; i <= n; i++) {
          k = sc SUBSEP list[i]
          if (!(k in rps)) { printf "| %s | failed | | | | | | | | |\n", list[i]; continue }
          r = median(rps[k]); q = median(p99[k])
          printf "| %s | %.0f | %.2f | %.2f | %.0f | %s | %s | %s | %s | %d |\n", list[i], r, median(p50[k]), q, median(cpu[k]),
            ratio(r, ng), ratio(q, ngp), ratio(r, nd), (list[i] ~ /^sluice/ ? ratio(r, sl) : "-"), err[k]
        }
      }
    }' "$TSV"
  if ((${#RSS_ROWS[@]})); then
    echo
    echo "### rss: 1000 keep-alive connections (idle: one GET each, then held 4 s; busy: wrk -t1 -c1000 -d${DURATION}s)"
    echo
    echo "| contestant | RSS at start MiB | RSS 1000 idle keep-alive MiB | RSS 1000 busy MiB (max) | busy req/s | busy p99 ms | wrk errors | idle clients |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    for r in "${RSS_ROWS[@]}"; do IFS=$'\t' read -r a b c d e f g h <<<"$r"; echo "| $a | $b | $c | $d | $e | $f | $g | $h |"; done
  fi
  [[ -n $SCALE_NOTE ]] && { echo; echo "- $SCALE_NOTE"; }
  return 0
}
summary | tee "$RUN_DIR/summary.md"
[[ -n $OUT ]] && cp "$RUN_DIR/summary.md" "$OUT"
log "raw client output: $RUN_DIR/raw/; per-run rows: $TSV; logs: $RUN_DIR/logs/"
