#!/usr/bin/env bash
# Fails when a folder includes a header of a folder it may not depend on (DESIGN §6):
# conf and dane stand alone, routing uses conf only, proxy may use everything.
set -euo pipefail
root=${1:?usage: layering_check.sh PROJECT_ROOT}
status=0
check() {  # check FOLDER FORBIDDEN...
  local folder=$1; shift
  for forbidden in "$@"; do
    if grep -rnE "#include *[<\"]${forbidden}/" "$root/$folder" --include='*.hpp' --include='*.cpp'; then
      echo "layering: $folder/ must not include $forbidden/" >&2
      status=1
    fi
  done
}
check conf dane routing proxy
check dane conf routing proxy
check routing dane proxy
# Asio and Beast stay out of the headers of conf/ and routing/ (compile-time budget, DESIGN §6).
if grep -rnE '#include *<boost/(asio|beast)' "$root/conf" "$root/routing" --include='*.hpp'; then
  echo "layering: conf/ and routing/ headers must not include Asio or Beast" >&2
  status=1
fi
[ "$status" -eq 0 ] && echo "layering: ok"
exit "$status"
