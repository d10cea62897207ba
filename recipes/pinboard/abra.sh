# Versions of the configs: bump one when its file changes, so that Swarm makes a new config.
export ENTRYPOINT_VERSION=v2
export APP_CONF_VERSION=v3

# Operator commands (abra app cmd): never run by the harness.
backup() {
  tar -C /var/lib/pinboard -czf - . > /tmp/pinboard-backup.tgz
}

restore() {
  tar -C /var/lib/pinboard -xzf /tmp/pinboard-backup.tgz
}
