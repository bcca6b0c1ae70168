#!/usr/bin/env bash
# `make demo`: generate a small host under ./.demo, back it up with the demo profile,
# list it, restore it elsewhere and show that the restored tree matches.
set -euo pipefail
cd "$(dirname "$0")/.."
S=.venv/bin/strongroom
P=profiles/demo.toml
D=.demo
rm -rf "$D"
mkdir -p "$D"
umask 077
head -c 32 /dev/urandom | base64 > "$D/repository.pass"
umask 022
h="$D/host"
mkdir -p "$h/etc/mcp-server" "$h/srv/infra/terraform/.terraform/providers" "$h/srv/compose" \
  "$h/etc/letsencrypt/live/example.org" "$h/var/www/nextcloud/config" \
  "$h/srv/nextcloud/data/alice/files/Photos" "$h/srv/nextcloud/data/bob/files" \
  "$h/etc/gitlab" "$h/srv/gitlab/repositories/infra.git" "$h/etc/netplan"
printf '{\n  "providers": ["hetzner", "aws"],\n  "catalog": "services.yaml"\n}\n' > "$h/etc/mcp-server/config.json"
printf 'resource "hcloud_server" "web" {\n  name = "web-1"\n}\n' > "$h/srv/infra/terraform/main.tf"
printf '{"version": 4}\n' > "$h/srv/infra/terraform/terraform.tfstate"
head -c 65536 /dev/urandom > "$h/srv/infra/terraform/.terraform/providers/plugin.bin"
printf 'services:\n  web:\n    image: nginx:1.27\n' > "$h/srv/compose/compose.yaml"
printf -- '-----BEGIN CERTIFICATE-----\nMIIDemo\n-----END CERTIFICATE-----\n' > "$h/etc/letsencrypt/live/example.org/fullchain.pem"
chmod 600 "$h/etc/letsencrypt/live/example.org/fullchain.pem"
ln -s live/example.org/fullchain.pem "$h/etc/letsencrypt/current.pem"
printf "<?php\n\$CONFIG = array('instanceid' => 'demo');\n" > "$h/var/www/nextcloud/config/config.php"
head -c 2000000 /dev/urandom > "$h/srv/nextcloud/data/alice/files/Photos/holiday café.jpg"
printf 'notes\n' > "$h/srv/nextcloud/data/bob/files/todo list.txt"
: > "$h/srv/nextcloud/data/bob/files/empty"
sqlite3 "$h/srv/nextcloud/nextcloud.db" "CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT);
  INSERT INTO files (path) VALUES ('alice/files/Photos/holiday café.jpg'), ('bob/files/todo list.txt');"
printf "external_url 'https://git.example.org'\n" > "$h/etc/gitlab/gitlab.rb"
printf 'ref: refs/heads/main\n' > "$h/srv/gitlab/repositories/infra.git/HEAD"
printf 'network:\n  version: 2\n' > "$h/etc/netplan/01-netcfg.yaml"

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step $S profile validate $P
step $S init -p $P
step $S create-backup -p $P --type full --name demo-full
step $S create-backup -p $P --schedule daily-config
step $S list-backups -p $P
step $S restore-backup -p $P --backup demo-full --dry-run
step $S restore-backup -p $P --backup demo-full --target "$D/restore" --verify
step $S drill -p $P --backup demo-full

# The restored tree sits under the target at the original absolute paths.
restored="$D/restore$(cd "$h" && pwd)"
echo
# The database came back through its dump: compare its rows, not its bytes.
rows() { sqlite3 "$1" "SELECT * FROM files ORDER BY id"; }
if [ "$(rows "$h/srv/nextcloud/nextcloud.db")" != "$(rows "$restored/srv/nextcloud/nextcloud.db")" ]; then
  echo "demo: the restored database differs from the original" >&2
  exit 1
fi
if diff -r --no-dereference --exclude .terraform --exclude nextcloud.db "$h" "$restored"; then
  echo "demo: the restored tree and database match the original (the excluded .terraform folder aside)"
else
  echo "demo: the restored tree differs from the original" >&2
  exit 1
fi
