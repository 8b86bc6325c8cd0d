#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bench/run.sh [ZKR_BENCH [ZKR_ELECT_BENCH]]
#
# Driver for `make bench`: zkr beside Curator (Java, Debian jars) and kazoo
# (Debian python3) on ONE fresh standalone ZooKeeper, in one run.
#
# ZKR_BENCH is the zkr C bench binary (CLI: ZKR_BENCH HOSTS SCENARIO N,
# prints "RESULT <impl> <scenario> <value> <unit>"); if it is missing the
# zkr rows are skipped. Its "raw" scenario (plain create+delete cycles,
# impl "raw") is the floor a lock cycle is compared with. Every bench
# (zkr-bench, CuratorBench, kazoo_bench.py) speaks the same protocol; a run
# may print several RESULT lines (zkr's queue-shard-1m prints -fill, -drain
# and -total rows), each one becomes a row of the report.
#
# ZKR_ELECT_BENCH (optional) is zkr's election and config bench (CLI:
# ZKR_ELECT_BENCH HOSTS): failover after a leader is killed or resigns,
# propagation of a config change to 100 watchers. It runs last, on the same
# server, and its rows make a second table (and election.csv); Curator and
# kazoo have no counterpart there.
#
# Prints a table with ratios and writes $ZKR_BENCH_RESULTS/lock.csv (and
# lock.png when gnuplot is installed; rows in seconds are left out of the
# chart); ZKR_BENCH_RESULTS defaults to bench/results under the current
# directory.
#
# Environment: ZKR_SERVER (server script, default ../server/zkr-server next
# to this file), ZKR_BENCH_RESULTS, ZKR_BENCH_TIMEOUT (seconds per single
# bench run, default 300), ZKR_BENCH_LONG_TIMEOUT (the same for the
# 1,000,000-item queue-shard-1m run, default 1800), ZKR_BENCH_HEAP (server
# heap in MB, default 1024), JAVA / JAVAC, ZKR_BENCH_SCALE (multiplies
# every N, e.g. 0.1 for a quick smoke run), CURATOR_CP (Curator classpath).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVER=${ZKR_SERVER:-$HERE/../server/zkr-server}
RESULTS=${ZKR_BENCH_RESULTS:-bench/results}
RUN_TIMEOUT=${ZKR_BENCH_TIMEOUT:-300}
LONG_TIMEOUT=${ZKR_BENCH_LONG_TIMEOUT:-1800}
# The server holds about 400 bytes of heap per queued 16-byte item (measured
# after a full GC), so queue-shard-1m's million items need ~400 MB.
HEAP=${ZKR_BENCH_HEAP:-1024}
SCALE=${ZKR_BENCH_SCALE:-1}
JAVA=${JAVA:-java}
JAVAC=${JAVAC:-javac}
PYTHON=/usr/bin/python3
CURATOR_CP=${CURATOR_CP:-/usr/share/java/curator-recipes.jar:/usr/share/java/slf4j-nop.jar}

SCENARIOS=(uncontended contended:4 contended:64 queue-put queue-take
           queue-take:4 queue-put-batch queue-shard-1m)
# zkr-only scenarios (no Curator or kazoo counterpart in this run)
declare -A ZKR_ONLY=([queue-put-batch]=1 [queue-shard-1m]=1)
declare -A NOPS=([uncontended]=3000 [contended:4]=2000 [contended:64]=2000
                 [queue-put]=3000 [queue-take]=3000 [queue-take:4]=3000
                 [queue-put-batch]=20000 [queue-shard-1m]=1000000 [raw]=3000)
# Report rows of a scenario whose run prints several RESULT lines (default:
# one row named like the scenario).
declare -A ROWS=([queue-shard-1m]="queue-shard-1m-fill queue-shard-1m-drain queue-shard-1m-total")
# Scenarios that need more than RUN_TIMEOUT (1M items: a fill of ~30 s and a
# drain of 250-500 s at the 2,000-4,000 items/s measured so far).
declare -A TIMEOUT=([queue-shard-1m]=$LONG_TIMEOUT)

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

zkr_bin=${1:-}
elect_bin=${2:-}
have_zkr=1
if [[ -z $zkr_bin || ! -x $zkr_bin || -d $zkr_bin ]]; then
  have_zkr=0
  say "bench: zkr bench binary '${zkr_bin:-<none given>}' not found; skipping zkr rows"
fi
[[ -x $SERVER ]] || die "server script $SERVER not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zkr-bench.XXXXXX")
server_started=0
child=
cleanup() {
  local rc=$?
  if [[ -n $child ]]; then          # a bench run still going: stop it (timeout
    kill -TERM "$child" 2>/dev/null || true   # passes TERM on to the bench)
    wait "$child" 2>/dev/null || true
  fi
  if ((server_started)); then
    "$SERVER" stop --dir "$tmp/server" >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ setup
hosts=$("$SERVER" start --heap "$HEAP" --dir "$tmp/server" --owner-pid $$) ||
  die "could not start the ZooKeeper server"
server_started=1
say "bench: server at $hosts (standalone, fresh, in $tmp/server)"

have_curator=1
if ! command -v "$JAVA" >/dev/null || ! command -v "$JAVAC" >/dev/null; then
  say "bench: java/javac not found; skipping Curator"
  have_curator=0
elif ! "$JAVAC" -nowarn -cp "$CURATOR_CP" -d "$tmp/classes" \
    "$HERE/CuratorBench.java" 2>"$tmp/javac.err"; then
  say "bench: compiling CuratorBench.java failed; skipping Curator:"
  sed 's/^/  /' "$tmp/javac.err" >&2
  have_curator=0
fi

have_kazoo=1
if ! "$PYTHON" -c 'import kazoo' 2>/dev/null; then
  say "bench: $PYTHON cannot import kazoo; skipping kazoo"
  have_kazoo=0
fi

scaled() { # N for scenario $1
  local n
  n=$(awk -v n="${NOPS[$1]}" -v s="$SCALE" 'BEGIN { v = int(n * s); print (v < 1 ? 1 : v) }')
  echo "$n"
}

declare -A VAL UNIT
# run_one IMPL SCENARIO CMD...: run one bench, record its RESULT lines.
run_one() {
  local impl=$1 scen=$2; shift 2
  local out="$tmp/out.$impl" err="$tmp/err.$impl" rc=0 t0 t1 line
  local limit=${TIMEOUT[$scen]:-$RUN_TIMEOUT} s good=0
  local -a f lines=()
  ((limit >= RUN_TIMEOUT)) || limit=$RUN_TIMEOUT
  t0=$(date +%s.%N)
  # In the background, so INT/TERM reach our traps at once (not after the run).
  timeout -k 10 "$limit" "$@" >"$out" 2>"$err" </dev/null &
  child=$!
  wait "$child" || rc=$?
  child=
  t1=$(date +%s.%N)
  if ((rc == 0)); then
    mapfile -t lines < <(grep -E '^RESULT ' "$out" || true)
    for line in "${lines[@]}"; do
      read -ra f <<<"$line"
      if ((${#f[@]} != 5)) || [[ ! ${f[3]} =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        say "bench: $impl $scen: malformed line: $line"
        continue
      fi
      s=${f[2]}
      [[ $s == raw ]] && s=uncontended     # raw create+delete vs. a lock cycle
      VAL[${f[1]}|$s]=${f[3]}
      UNIT[$s]=${f[4]}
      good=$((good + 1))
      say "$(printf 'bench: %-8s %-21s %12s %-10s (%.1f s)' "${f[1]}" "${f[2]}" \
        "${f[3]}" "${f[4]}" "$(echo "$t1 - $t0" | bc)")"
    done
  fi
  if ((rc != 0 || good == 0)); then
    say "bench: $impl $scen failed (exit $rc$( ((rc == 124)) && echo ", timed out after ${limit}s"))"
    if [[ -s $err ]]; then tail -n 3 "$err" | sed 's/^/  /' >&2; fi
  fi
  return 0
}

start_all=$(date +%s)
if ((have_zkr)); then
  run_one raw raw "$zkr_bin" "$hosts" raw "$(scaled raw)"
fi
for scen in "${SCENARIOS[@]}"; do
  n=$(scaled "$scen")
  if ((have_zkr)); then
    run_one zkr "$scen" "$zkr_bin" "$hosts" "$scen" "$n"
  fi
  [[ -n ${ZKR_ONLY[$scen]:-} ]] && continue
  if ((have_curator)); then
    run_one curator "$scen" "$JAVA" -cp "$tmp/classes:$CURATOR_CP" CuratorBench \
      "$hosts" "$scen" "$n"
  fi
  if ((have_kazoo)); then
    run_one kazoo "$scen" "$PYTHON" "$HERE/kazoo_bench.py" "$hosts" "$scen" "$n"
  fi
done
elect_rows=()
if [[ -n $elect_bin && -x $elect_bin ]]; then
  run_one zkr election "$elect_bin" "$hosts"
  mapfile -t elect_rows < <(awk '/^RESULT zkr / { print $3 }' "$tmp/out.zkr")
elif [[ -n $elect_bin ]]; then
  say "bench: election bench '$elect_bin' not found; skipping its rows"
fi
elapsed=$(($(date +%s) - start_all))

# ------------------------------------------------------------------ report
get() { echo "${VAL[$1|$2]:-n/a}"; }
ratio() { # a b -> a/b with 2 decimals, or n/a
  if [[ $1 == n/a || $2 == n/a ]]; then echo n/a; return; fi
  awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
}

default_unit() { # unit of row $1 when no run reported it
  case $1 in
    uncontended) echo cycles/s ;;
    contended:*) echo handoffs/s ;;
    *-total) echo s ;;
    queue-*) echo items/s ;;
    *) echo ops/s ;;
  esac
}

mkdir -p "$RESULTS"
csv=$RESULTS/lock.csv
{
  echo "scenario,unit,n,zkr,curator,kazoo,raw,zkr/curator,zkr/kazoo,zkr/raw"
  for scen in "${SCENARIOS[@]}"; do
    for row in ${ROWS[$scen]:-$scen}; do
      z=$(get zkr "$row") c=$(get curator "$row") k=$(get kazoo "$row") r=$(get raw "$row")
      unit=${UNIT[$row]:-$(default_unit "$row")}
      if [[ $unit == s ]]; then     # seconds: lower is better, so other/zkr
        echo "$row,$unit,$(scaled "$scen"),$z,$c,$k,$r,$(ratio "$c" "$z"),$(ratio "$k" "$z"),$(ratio "$r" "$z")"
      else
        echo "$row,$unit,$(scaled "$scen"),$z,$c,$k,$r,$(ratio "$z" "$c"),$(ratio "$z" "$k"),$(ratio "$z" "$r")"
      fi
    done
  done
} >"$csv"

echo
echo "Lock and queue benchmark: one standalone ZooKeeper 3.8 on 127.0.0.1, all implementations in this run (${elapsed} s)"
((have_zkr)) || echo "(zkr bench binary missing: zkr rows skipped)"
printf '%-21s %-10s %8s %10s %10s %10s %10s %11s %9s %7s\n' \
  scenario unit n zkr curator kazoo raw zkr/curator zkr/kazoo zkr/raw
while IFS=, read -r scen unit n z c k r rc rk rr; do
  printf '%-21s %-10s %8s %10s %10s %10s %10s %11s %9s %7s\n' \
    "$scen" "$unit" "$n" "$z" "$c" "$k" "$r" "$rc" "$rk" "$rr"
done < <(tail -n +2 "$csv")
echo "values are per second (higher is better) except in unit s (seconds, lower"
echo "is better); ratios > 1 mean zkr is faster. n/a: not run or no counterpart."
echo "raw = plain create+delete cycles (zkr-bench raw), shown against uncontended."
echo "queue-take:4 = 4 consumer sessions draining one pre-filled queue together."
echo "queue-shard-1m = zkr's 64-shard queue: fill n items (batches of 100), then"
echo "one consumer drains them; -total = fill + drain seconds."
echo "CSV: $csv"

# ------------------------------------------------------------------ chart
if command -v gnuplot >/dev/null; then
  png=$RESULTS/lock.png
  # The chart's axis is per second: rows in other units (seconds) stay out.
  # No header row in the chart either.
  awk -F, 'NR > 1 && $2 ~ /\/s$/' "$csv" >"$tmp/plot.csv"
  # Plot only the implementations with at least one value.
  cols=() names=()
  i=4
  for impl in zkr curator kazoo raw; do
    if awk -F, -v c="$i" '$c != "n/a" { found = 1 } END { exit !found }' "$tmp/plot.csv"; then
      cols+=("$i") names+=("$impl")
    fi
    i=$((i + 1))
  done
  if ((${#cols[@]})); then
    # Lower end of the log axis: the power of ten at or below the smallest value.
    ymin=$(awk -F, '{ for (i = 4; i <= 7; i++) if ($i != "n/a" && $i > 0 &&
             (m == "" || $i < m)) m = $i }
           END { if (m == "") m = 10; e = 1; while (e * 10 <= m) e *= 10;
                 while (e > m) e /= 10; print e }' "$tmp/plot.csv")
    # Upper end: some headroom above the largest value.
    ymax=$(awk -F, '{ for (i = 4; i <= 7; i++) if ($i != "n/a" && $i > m) m = $i }
           END { print (m > 0 ? m * 1.6 : 1000) }' "$tmp/plot.csv")
    plot=""
    for j in "${!cols[@]}"; do
      plot+="${plot:+, }'$tmp/plot.csv' using ${cols[$j]}:xtic(1) title '${names[$j]}'"
    done
    term="pngcairo size 900,500 font ',10'"
    gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo || term="png size 900,500"
    if gnuplot 2>"$tmp/gnuplot.err" <<EOF
set terminal $term
set output '$png'
set datafile separator ','
set datafile missing 'n/a'
set title 'zkr vs Curator vs kazoo (one standalone ZooKeeper, 127.0.0.1)'
set ylabel 'operations or items per second (log scale)'
set logscale y
set yrange [$ymin:$ymax]
set grid ytics
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key outside right top
set xtics nomirror rotate by 30 right
plot $plot
EOF
    then
      echo "PNG: $png"
    else
      say "bench: gnuplot failed:"; sed 's/^/  /' "$tmp/gnuplot.err" >&2
    fi
  fi
else
  echo "(gnuplot not installed: no PNG)"
fi
if ((${#elect_rows[@]})); then
  {
    echo "scenario,unit,zkr"
    for row in "${elect_rows[@]}"; do
      echo "$row,${UNIT[$row]:-ms},$(get zkr "$row")"
    done
  } >"$RESULTS/election.csv"
  echo
  echo "Election and config (zkr only; medians; the same server):"
  printf '%-24s %-6s %10s\n' scenario unit zkr
  while IFS=, read -r row unit z; do
    printf '%-24s %-6s %10s\n' "$row" "$unit" "$z"
  done < <(tail -n +2 "$RESULTS/election.csv")
fi
