#!/usr/bin/env bash
# bench/poll1s.sh COMPOSE STACK — what a plain shell script does to test a recipe, polling
# every second: deploy, wait until the service runs healthy, one HTTP probe inside the
# container, remove, wait until every container and the network are gone.
# The comparison point of bench/overhead.py.
# A recipe's compose file may read STACK_NAME and DOMAIN (recipes/web does): they are set
# as the harness sets them: the stack's name and <stack>.harness.localhost.
set -euo pipefail
compose=$1 stack=$2
export STACK_NAME=$stack
export DOMAIN=$stack.harness.localhost

docker stack deploy --compose-file "$compose" "$stack" >/dev/null

container() { docker ps -q --filter "label=com.docker.stack.namespace=$stack" | head -n1; }
while :; do
  c=$(container)
  if [[ -n $c && $(docker inspect --format '{{.State.Health.Status}}' "$c" 2>/dev/null) == healthy ]]; then break; fi
  sleep 1
done

docker exec "$(container)" wget -q -O- http://127.0.0.1:8080/ >/dev/null

docker stack rm "$stack" >/dev/null
while [[ -n $(docker ps -aq --filter "label=com.docker.stack.namespace=$stack") ]] ||
      docker network inspect "${stack}_default" >/dev/null 2>&1; do
  sleep 1
done
