#!/usr/bin/env bash
# Suricata load: time and peak memory of Suricata 7 loading N indicator values (half IPv4
# addresses, half domain names, one indicator each) exported one rule per value and as datasets.
# Usage: crates/shieldwall/benches/suricata_load.sh [N] [path/to/shieldwall]
# Needs suricata, python3 and GNU time (/usr/bin/time). Prints one line per shape.
set -euo pipefail
N="${1:-100000}"
SW="${2:-target/release/shieldwall}"
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT
python3 - "$N" "$DIR/indicators.json" <<'PY'
import json, sys
n = int(sys.argv[1]); out = []
for i in range(n):
    if i % 2:
        pattern = "[domain-name:value = 'host%d.bench%d.example']" % (i, i % 97)
    else:
        pattern = "[ipv4-addr:value = '11.%d.%d.%d']" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)
    out.append({"type": "indicator", "spec_version": "2.1",
                "id": "indicator--00000000-0000-4000-8000-%012d" % i,
                "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
                "pattern": pattern, "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"})
json.dump({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": out},
          open(sys.argv[2], "w"))
PY
# An empty capture: Suricata loads the rules, builds its detection engine, reads nothing, exits.
printf '\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x01\x00\x00\x00' > "$DIR/empty.pcap"
echo "suricata $(suricata -V | grep -o '[0-9][0-9.]*' | head -1), $N values, $(nproc) cores"
for mode in never always; do
  mkdir -p "$DIR/$mode/log"
  "$SW" export --format suricata --datasets "$mode" --indicators "$DIR/indicators.json" \
    -o "$DIR/$mode/shieldwall.rules" 2>/dev/null
  rules=$(grep -c '^alert ' "$DIR/$mode/shieldwall.rules")
  /usr/bin/time -f '%e %M' -o "$DIR/$mode/time" \
    suricata --include "$DIR/$mode/shieldwall-suricata.yaml" -S "$DIR/$mode/shieldwall.rules" \
      -r "$DIR/empty.pcap" -l "$DIR/$mode/log" -k none --init-errors-fatal >/dev/null 2>&1
  read -r secs kb < "$DIR/$mode/time"
  echo "--datasets $mode: $rules rules, load and exit ${secs} s, peak RSS $((kb / 1024)) MB"
done
